"""Seed a queue for worker subprocesses, through the app's own services.

    DATABASE_URL=… python -m tests.faults.seed_queue --port P --messages N [--timeout S]
        [--hourly-limit L] [--max-in-flight N] [--max-per-second N] [--webhook-url URL]

Creates a user, their account, a default SMTP provider at 127.0.0.1:P and N queued
messages (batch_enqueue, as /send-batch does), and with --webhook-url an endpoint there for
the account's `sent` events, then prints "SEEDED <provider id>". Runs in
its own process so it reaches databases the test process cannot (a SQLite file, a
throwaway PostgreSQL cluster); the environment must carry the test run's SECRET_KEY so
the workers can decrypt the provider's credentials.
"""

import argparse
import os
import uuid

import django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--messages", type=int, required=True)
    parser.add_argument("--timeout", type=int, default=5, help="the provider's SMTP timeout")
    parser.add_argument("--hourly-limit", type=int, default=None)
    parser.add_argument("--max-in-flight", type=int, default=None)
    parser.add_argument("--max-per-second", type=int, default=None)
    parser.add_argument("--webhook-url", default=None)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mailpass.settings")
    django.setup()

    from django.contrib.auth import get_user_model

    from accounts.services import account_create, account_set_verified_domains_only
    from api.services import batch_enqueue, webhook_create
    from providers.models import Provider
    from providers.services import provider_create

    user = get_user_model().objects.create_user(username=f"fault-{uuid.uuid4().hex[:12]}")
    account = account_create(owner=user)
    account_set_verified_domains_only(account=account, on=False)  # any From, as the tests'
    provider = provider_create(
        account=account,
        name="Fault sink",
        host="127.0.0.1",
        port=args.port,
        security=Provider.Security.NONE,
        timeout=args.timeout,
        from_email="sender@example.com",
        from_name="Sender",
        is_default=True,
        hourly_limit=args.hourly_limit,
        max_in_flight=args.max_in_flight,
        max_per_second=args.max_per_second,
    )
    if args.webhook_url:
        webhook_create(account=account, url=args.webhook_url, events=["sent"])
    items = [
        {"to": f"r{i}@example.com", "subject": f"Message {i}", "text": f"Body {i}"}
        for i in range(args.messages)
    ]
    for start in range(0, len(items), 1000):
        results = batch_enqueue(account=account, api_key=None, items=items[start : start + 1000])
        refused = [result.errors for result in results if not result.queued]
        assert not refused, f"seed_queue: items not queued: {refused[:3]}"
    print(f"SEEDED {provider.pk}", flush=True)


if __name__ == "__main__":
    main()
