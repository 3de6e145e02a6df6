from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse


@login_required
def provider_list(request: HttpRequest) -> HttpResponse:  # placeholder
    return HttpResponse("provider_list")


@login_required
def provider_create(request: HttpRequest) -> HttpResponse:  # placeholder
    return HttpResponse("provider_create")


@login_required
def provider_update(request: HttpRequest, pk: int) -> HttpResponse:  # placeholder
    return HttpResponse("provider_update")


@login_required
def provider_delete(request: HttpRequest, pk: int) -> HttpResponse:  # placeholder
    return HttpResponse("provider_delete")


@login_required
def provider_set_default(request: HttpRequest, pk: int) -> HttpResponse:  # placeholder
    return HttpResponse("provider_set_default")


@login_required
def provider_test_email(request: HttpRequest, pk: int) -> HttpResponse:  # placeholder
    return HttpResponse("provider_test_email")


@login_required
def provider_test_connection(request: HttpRequest, pk: int) -> HttpResponse:  # placeholder
    return HttpResponse("provider_test_connection")
