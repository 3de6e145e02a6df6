from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse


@login_required
def overview(request: HttpRequest) -> HttpResponse:  # placeholder: issue 5, helper B
    return HttpResponse("overview")
