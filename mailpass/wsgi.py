import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mailpass.settings")
# The same configuration file as manage.py and cron (mailpass/envfile.py): the systemd
# units and `make serve` name it in MAILPASS_ENV_FILE.
if os.environ.get("MAILPASS_ENV_FILE"):
    from mailpass.envfile import apply_env_file

    apply_env_file(os.environ["MAILPASS_ENV_FILE"])
application = get_wsgi_application()
