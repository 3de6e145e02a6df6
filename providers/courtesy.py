"""Courtesy towards providers, kept by every worker on every host together.

In flight: a provider takes at most `in_flight_cap` connections (SMTP) or requests (API)
at once. The cap is a set of numbered slots (ProviderSlot rows); a worker leases some
before it opens connections to the provider, renews them while it sends and frees them
when it stops. A dead worker's slots come free when their lease runs out.

Per second: a provider with max_per_second is handed messages at least
1/(PACE_HEADROOM x rate) apart, by taking turns from one narrow row (ProviderPace).
However many workers send, no window of one second holds more than 0.9 x rate + 1 turns,
which leaves room for the scheduling and network jitter between a turn and the moment the
provider sees the message.
"""

import datetime as dt
import math
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from providers.kinds import spec_for
from providers.models import Provider, ProviderPace, ProviderSlot

# Turns are spaced for this share of max_per_second. At the full rate, two workers on a busy
# machine were seen putting 23 messages into one second at a 20/s provider: a message sent
# late lands next to the one after it.
PACE_HEADROOM = 0.9


def slot_lease() -> dt.timedelta:
    """How long a worker's slots stay its own without renewal (it renews them four times a
    lease): how long a dead worker can hold a provider's connections back from the others."""
    return dt.timedelta(seconds=settings.MAILPASS_PROVIDER_SLOT_LEASE_SECONDS)


def in_flight_cap(provider: Provider) -> int:
    """The most connections or requests `provider` may have open from all workers at once."""
    return provider.max_in_flight or spec_for(provider.kind).in_flight


def lease_slots(*, provider: Provider, holder: uuid.UUID, wanted: int) -> int:
    """Lease up to `wanted` of the provider's slots for `holder` in all (those it holds
    already count) and return how many it holds now, 0 when all are taken.

    Runs in its own short transaction; SKIP LOCKED lets workers lease side by side.
    """
    cap = in_flight_cap(provider)
    now = timezone.now()
    if ProviderSlot.objects.filter(provider=provider, number__lt=cap).count() < cap:
        ProviderSlot.objects.bulk_create(
            [ProviderSlot(provider=provider, number=number) for number in range(cap)],
            ignore_conflicts=True,
        )
    with transaction.atomic():
        takeable = Q(holder__isnull=True) | Q(expires_at__lt=now) | Q(holder=holder)
        slots = list(
            ProviderSlot.objects.select_for_update(skip_locked=True)
            .filter(takeable, provider=provider, number__lt=cap)
            .order_by("number")
            .values_list("pk", flat=True)[: min(wanted, cap)]
        )
        # The condition again: where SKIP LOCKED is a no-op (SQLite), two workers may have
        # picked the same free slots, and only the first UPDATE gets them.
        ProviderSlot.objects.filter(takeable, pk__in=slots).update(
            holder=holder, expires_at=now + slot_lease()
        )
    # Slots above a lowered cap are neither leased nor counted.
    return ProviderSlot.objects.filter(provider=provider, holder=holder, number__lt=cap).count()


def renew_slots(*, holder: uuid.UUID) -> None:
    """Push the lease of every slot `holder` holds one slot_lease() into the future."""
    ProviderSlot.objects.filter(holder=holder).update(expires_at=timezone.now() + slot_lease())


def free_slots(*, holder: uuid.UUID, provider_id: int | None = None) -> None:
    """Give back the slots `holder` holds (only those of provider `provider_id`, if given)."""
    held = ProviderSlot.objects.filter(holder=holder)
    if provider_id is not None:
        held = held.filter(provider_id=provider_id)
    held.update(holder=None, expires_at=None)


def take_turn(*, provider: Provider) -> float:
    """Seconds to wait before handing `provider` its next message (0 without a per-second
    cap), the turn taken: call it right before each message goes to the provider.

    Turns are 1/(PACE_HEADROOM x max_per_second) apart, counted from now when the provider
    has been idle, so a quiet provider saves up no burst. A turn that is not used is lost,
    never lent.
    """
    if not provider.max_per_second:
        return 0.0
    spacing = dt.timedelta(seconds=1 / (PACE_HEADROOM * provider.max_per_second))
    now = timezone.now()
    with transaction.atomic():
        pace = ProviderPace.objects.select_for_update().filter(provider=provider).first()
        if pace is None:
            # Two first senders race to create the row; the loser takes the next turn.
            pace, created = ProviderPace.objects.get_or_create(
                provider=provider, defaults={"next_at": now + spacing}
            )
            if created:
                return 0.0
            pace = ProviderPace.objects.select_for_update().get(provider=provider)
        turn = max(pace.next_at, now)
        pace.next_at = turn + spacing
        pace.save(update_fields=["next_at"])
    return (turn - now).total_seconds()


def wait_for_turn(
    provider: Provider,
    *,
    within: float = math.inf,
    take: Callable[[Provider], float] = lambda provider: take_turn(provider=provider),
) -> bool:
    """Take the provider's next per-second turn and sleep until it comes; True at once for a
    provider without a cap. False, the turn given up, when it is more than `within` seconds
    away. `take` takes the turn: the queue's sending threads hand that query to their
    worker's DatabaseLane, and sleep outside it."""
    if not provider.max_per_second:
        return True
    seconds = take(provider)
    if seconds > within:
        return False
    if seconds > 0:
        time.sleep(seconds)
    return True
