from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse


@login_required
def key_list(request: HttpRequest) -> HttpResponse:  # placeholder
    return HttpResponse("keys")


@login_required
def key_revoke(request: HttpRequest, pk: int) -> HttpResponse:  # placeholder
    return HttpResponse("revoke")
