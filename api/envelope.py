from typing import Any

from rest_framework.response import Response


def success(data: Any, *, status: int = 200) -> Response:
    """The success envelope: {"success": true, "data": …}. Errors go through api.errors."""
    return Response({"success": True, "data": data}, status=status)
