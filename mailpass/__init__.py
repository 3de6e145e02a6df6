"""MailPass: a self-hostable transactional email service."""

# The release this checkout is: /api/v1/health, the dashboard's footer and
# `manage.py --version` report it; CHANGELOG.md says what each release changed.
__version__ = "1.0.0"
