from django import template
from django.urls import reverse
from django.utils.html import format_html

register = template.Library()


@register.simple_tag(takes_context=True)
def nav_link(context: template.Context, url_name: str, label: str) -> str:
    """A main-menu link, marked as the current page for its whole section
    (the messages link stays current on a message's detail page)."""
    url = reverse(url_name)
    path = context["request"].path
    current = path == url if url == reverse("dashboard:overview") else path.startswith(url)
    if current:
        return format_html('<a href="{}" aria-current="page">{}</a>', url, label)
    return format_html('<a href="{}">{}</a>', url, label)
