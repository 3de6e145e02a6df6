#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mailpass.settings")
    # Cron starts commands with an empty environment: MAILPASS_ENV_FILE names a file with
    # the configuration (mailpass/envfile.py), read before the settings are.
    if os.environ.get("MAILPASS_ENV_FILE"):
        from django.core.exceptions import ImproperlyConfigured

        from mailpass.envfile import apply_env_file

        try:
            apply_env_file(os.environ["MAILPASS_ENV_FILE"])
        except ImproperlyConfigured as err:
            sys.exit(f"manage.py: MAILPASS_ENV_FILE: {err}")
    if sys.argv[1:] == ["--version"]:
        import django

        from mailpass import __version__

        print(f"MailPass {__version__} (Django {django.get_version()})")
        return
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
