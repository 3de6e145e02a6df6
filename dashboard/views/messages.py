from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse


@login_required
def message_list(request: HttpRequest) -> HttpResponse:  # placeholder
    return HttpResponse("message_list")


@login_required
def message_detail(request: HttpRequest, pk: int) -> HttpResponse:  # placeholder
    return HttpResponse("message_detail")


@login_required
def message_html(request: HttpRequest, pk: int) -> HttpResponse:  # placeholder
    return HttpResponse("message_html")


@login_required
def requeue_failed(request: HttpRequest) -> HttpResponse:  # placeholder
    return HttpResponse("requeue_failed")
