from typing import Any

from django.utils.functional import SimpleLazyObject
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from api import selectors, services
from api.models import ApiKey, Permission
from mailpass import logs


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer mp_live_…`.

    request.auth is the ApiKey; request.user the owner of its account (loaded lazily).
    """

    def authenticate(self, request: Any) -> tuple[Any, ApiKey] | None:
        header = get_authorization_header(request).split()
        if not header:
            return None
        if header[0].lower() != b"bearer" or len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header. Use 'Authorization: Bearer <API key>'."
            )
        try:
            key = header[1].decode("ascii")
        except UnicodeDecodeError as err:
            raise exceptions.AuthenticationFailed("Invalid API key.") from err
        api_key = selectors.api_key_get_active(key=key)
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        services.api_key_mark_used(api_key=api_key, secret=key)
        logs.bind(account_id=api_key.account_id)
        # The API works on request.auth; the owner is loaded only if something asks for it.
        return SimpleLazyObject(lambda: api_key.account.owner), api_key

    def authenticate_header(self, request: Any) -> str:
        # Returning a challenge makes DRF answer 401 rather than 403 for a missing key.
        return 'Bearer realm="api"'


def api_key_of(request: Request) -> ApiKey:
    """The ApiKey that authenticated `request`: every API view behind HasMailPermission has
    one (the permission check runs before the view)."""
    if not isinstance(request.auth, ApiKey):
        raise exceptions.NotAuthenticated()
    return request.auth


class HasMailPermission(BasePermission):
    """The key must carry the view's `required_permission` (default: mail), or one of them
    when the view names several (a tuple)."""

    message = "This API key does not have the 'mail' permission."

    def has_permission(self, request: Any, view: Any) -> bool:
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            return False
        required = getattr(view, "required_permission", Permission.MAIL)
        accepted = required if isinstance(required, tuple) else (required,)
        if any(api_key.has_permission(permission) for permission in accepted):
            return True
        self.message = "This API key does not have the {} permission.".format(
            " or ".join(f"'{permission}'" for permission in accepted)
        )
        return False
