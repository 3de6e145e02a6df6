"""Templates: create, change (each change of content is a new version), delete, render."""

from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from accounts.models import Account
from api import templating
from api.errors import TemplateInUseError
from api.models import Message, Template, TemplateVersion

CONTENT_FIELDS = ("subject", "html", "text", "defaults")
_ALIAS_TAKEN = {"alias": ["Already used by another template."]}


def template_create(
    *, account: Account, data: dict[str, Any], user: User | None = None
) -> Template:
    """A new template with its version 1 from validated input (TemplateInputSerializer;
    the dashboard adds `sample_variables`, its preview data, default: the defaults).
    Raises ValidationError (alias) when the account has a template of that alias."""
    now = timezone.now()
    try:
        with transaction.atomic():
            template = Template.objects.create(
                account=account,
                alias=data["alias"],
                name=data["name"],
                sample_variables=data.get("sample_variables", data.get("defaults", {})),
                created_at=now,
                updated_at=now,
            )
            TemplateVersion.objects.create(
                template=template,
                number=1,
                created_by=user,
                created_at=now,
                **_content({}, data),
            )
    except IntegrityError as err:
        raise ValidationError(_ALIAS_TAKEN) from err
    return template


def _content(current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    content = {name: changes.get(name, current.get(name, "")) for name in CONTENT_FIELDS}
    content["defaults"] = content["defaults"] or {}
    return content


def template_update(
    *, template: Template, data: dict[str, Any], user: User | None = None
) -> Template:
    """Apply validated changes (TemplateInputSerializer, partial; the dashboard adds
    `sample_variables`). A change of subject, html, text or defaults adds a version; name,
    alias and sample variables change in place. Raises
    ValidationError when the alias is taken or the result has neither html nor text."""
    latest = template_version_get(template=template)
    current = {name: getattr(latest, name) for name in CONTENT_FIELDS}
    content = _content(current, data)
    if not content["html"] and not content["text"]:
        raise ValidationError({"html": ["Either html or text is required."]})
    now = timezone.now()
    try:
        with transaction.atomic():
            fields = {
                name: data[name] for name in ("name", "alias", "sample_variables") if name in data
            }
            if content != current:
                # F() + 1 under the row's lock: two saves at once make two versions.
                Template.objects.filter(pk=template.pk).update(
                    latest_version=F("latest_version") + 1, updated_at=now, **fields
                )
                template.refresh_from_db()
                TemplateVersion.objects.create(
                    template=template,
                    number=template.latest_version,
                    created_by=user,
                    created_at=now,
                    **content,
                )
            elif fields:
                Template.objects.filter(pk=template.pk).update(updated_at=now, **fields)
                template.refresh_from_db()
    except IntegrityError as err:
        raise ValidationError(_ALIAS_TAKEN) from err
    return template


def template_roll_back(*, template: Template, number: int, user: User | None = None) -> Template:
    """Make version `number`'s content the latest again, as a new version: history only
    grows. Raises TemplateVersion.DoesNotExist."""
    old = template_version_get(template=template, number=number)
    return template_update(
        template=template,
        data={name: getattr(old, name) for name in CONTENT_FIELDS},
        user=user,
    )


def template_delete(*, template: Template) -> None:
    """Delete the template and its versions. Raises TemplateInUseError while scheduled
    messages were rendered from it (their record of it would be lost). Sent messages keep
    their subject and bodies; they only forget the version."""
    scheduled = Message.objects.filter(
        template_version__template=template, status=Message.Status.SCHEDULED
    ).count()
    if scheduled:
        raise TemplateInUseError(scheduled=scheduled)
    template.delete()


def template_version_get(*, template: Template, number: int | None = None) -> TemplateVersion:
    """Version `number` of the template, or its latest, with `template` as its .template
    (no query for it). Raises TemplateVersion.DoesNotExist."""
    version = TemplateVersion.objects.get(
        template=template, number=number if number is not None else template.latest_version
    )
    version.template = template
    return version


def template_render(*, version: TemplateVersion, variables: dict[str, Any]) -> templating.Rendered:
    """The version filled with `variables`. Raises ValidationError: under `variables` for
    names nothing gives, else under `template`, and under `subject` when the result is not a
    valid subject (a variable brought a line break)."""
    try:
        rendered = templating.render(
            subject=version.subject,
            html_body=version.html,
            text=version.text,
            defaults=version.defaults,
            variables=variables,
        )
    except templating.MissingVariablesError as err:
        raise ValidationError({"variables": [str(err)]}) from err
    except templating.TemplateError as err:
        raise ValidationError({"template": [str(err)]}) from err
    if problem := templating.subject_problem(rendered.subject):
        raise ValidationError({"subject": [problem]})
    if not rendered.html.strip() and not rendered.text.strip():
        raise ValidationError({"template": ["Both html and text came out empty."]})
    return rendered


class TemplateCache:
    """The versions one request sends with, looked up once however many items use them."""

    def __init__(self, account: Account) -> None:
        self.account = account
        self.versions: dict[tuple[Any, ...], TemplateVersion | str] = {}

    def version_for(self, reference: dict[str, Any]) -> TemplateVersion:
        """The version `reference` (a validated TemplateReferenceSerializer) names; raises
        ValidationError when the account has no such template or version."""
        key = (reference.get("id"), reference.get("alias"), reference.get("version"))
        if key not in self.versions:
            self.versions[key] = self._find(reference)
        found = self.versions[key]
        if isinstance(found, str):
            raise ValidationError({"template": [found]})
        return found

    def _find(self, reference: dict[str, Any]) -> TemplateVersion | str:
        templates = Template.objects.filter(account=self.account)
        if "id" in reference:
            template = templates.filter(pk=reference["id"]).first()
            missing = "No template with this id."
        else:
            template = templates.filter(alias=reference["alias"]).first()
            missing = "No template with this alias."
        if template is None:
            return missing
        try:
            return template_version_get(template=template, number=reference.get("version"))
        except TemplateVersion.DoesNotExist:
            return f"The template has no version {reference.get('version')}."
