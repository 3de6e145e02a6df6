"""providers.courtesy: the in-flight cap as leased slots shared by every worker, and the
per-second pace taken turn by turn."""

import datetime as dt
import uuid

import pytest

from providers import courtesy
from providers.models import Provider, ProviderSlot
from providers.services import provider_update
from tests import factories

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2024, 5, 10, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock(time_machine):
    """Time frozen at T0; move it with clock.shift(...)."""
    time_machine.move_to(T0, tick=False)
    return time_machine


def make_provider(account, **fields) -> Provider:
    return factories.make_provider(account, port=2525, **fields)


def holder() -> uuid.UUID:
    return uuid.uuid4()


# --- in_flight_cap ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "cap"),
    [
        ("smtp", 50),
        ("mailpass", 50),
        ("amazon_ses", 100),
        ("sendgrid", 100),
        ("mailgun", 100),
        ("postmark", 100),
        ("resend", 100),
        ("brevo", 100),
    ],
)
def test_in_flight_cap_without_max_in_flight_is_the_kinds_default(kind, cap):
    assert courtesy.in_flight_cap(Provider(kind=kind)) == cap


def test_in_flight_cap_is_max_in_flight_when_set():
    assert courtesy.in_flight_cap(Provider(kind="smtp", max_in_flight=3)) == 3
    assert courtesy.in_flight_cap(Provider(kind="sendgrid", max_in_flight=200)) == 200


# --- lease_slots -----------------------------------------------------------------------------


def test_lease_slots_grants_what_is_wanted_when_the_cap_allows(account, clock):
    provider = make_provider(account, max_in_flight=5)

    assert courtesy.lease_slots(provider=provider, holder=holder(), wanted=3) == 3


def test_lease_slots_grants_no_more_than_the_cap(account, clock):
    provider = make_provider(account, max_in_flight=5)

    assert courtesy.lease_slots(provider=provider, holder=holder(), wanted=8) == 5


def test_lease_slots_counts_the_slots_the_holder_already_has(account, clock):
    provider = make_provider(account, max_in_flight=5)
    worker = holder()
    courtesy.lease_slots(provider=provider, holder=worker, wanted=3)

    assert courtesy.lease_slots(provider=provider, holder=worker, wanted=4) == 4
    assert ProviderSlot.objects.filter(provider=provider, holder=worker).count() == 4


def test_two_holders_share_the_cap(account, clock):
    provider = make_provider(account, max_in_flight=5)
    first, second, third = holder(), holder(), holder()

    assert courtesy.lease_slots(provider=provider, holder=first, wanted=3) == 3
    assert courtesy.lease_slots(provider=provider, holder=second, wanted=3) == 2
    assert courtesy.lease_slots(provider=provider, holder=third, wanted=1) == 0


def test_each_provider_has_slots_of_its_own(account, clock):
    one = make_provider(account, name="One", max_in_flight=2)
    two = make_provider(account, name="Two", max_in_flight=2)
    worker = holder()

    assert courtesy.lease_slots(provider=one, holder=worker, wanted=2) == 2
    assert courtesy.lease_slots(provider=two, holder=holder(), wanted=2) == 2


def test_an_expired_holders_slots_can_be_taken(account, clock):
    provider = make_provider(account, max_in_flight=4)
    dead = holder()
    courtesy.lease_slots(provider=provider, holder=dead, wanted=4)

    clock.shift(courtesy.slot_lease() - dt.timedelta(seconds=1))
    assert courtesy.lease_slots(provider=provider, holder=holder(), wanted=4) == 0

    clock.shift(dt.timedelta(seconds=2))
    assert courtesy.lease_slots(provider=provider, holder=holder(), wanted=4) == 4
    assert not ProviderSlot.objects.filter(holder=dead).exists()


def test_a_lowered_cap_is_honoured(account, clock):
    provider = make_provider(account, max_in_flight=5)
    first = holder()
    courtesy.lease_slots(provider=provider, holder=first, wanted=3)

    provider_update(provider=provider, max_in_flight=2)

    # Two slots of five are free, but the first holder already has the two the cap allows.
    assert courtesy.lease_slots(provider=provider, holder=holder(), wanted=5) == 0
    assert courtesy.lease_slots(provider=provider, holder=first, wanted=5) == 2


def test_a_raised_cap_adds_slots(account, clock):
    provider = make_provider(account, max_in_flight=2)
    courtesy.lease_slots(provider=provider, holder=holder(), wanted=2)
    provider_update(provider=provider, max_in_flight=5)

    assert courtesy.lease_slots(provider=provider, holder=holder(), wanted=5) == 3


def test_the_kinds_default_applies_without_max_in_flight(account, clock):
    provider = make_provider(account)

    assert courtesy.lease_slots(provider=provider, holder=holder(), wanted=80) == 50


# --- renew_slots -----------------------------------------------------------------------------


def test_renewed_slots_stay_the_holders_past_their_first_lease(account, clock):
    provider = make_provider(account, max_in_flight=3)
    worker = holder()
    courtesy.lease_slots(provider=provider, holder=worker, wanted=3)

    clock.shift(courtesy.slot_lease() * 3 / 4)
    courtesy.renew_slots(holder=worker)
    clock.shift(courtesy.slot_lease() / 2)  # past the first lease, within the renewed one

    assert courtesy.lease_slots(provider=provider, holder=holder(), wanted=3) == 0
    clock.shift(courtesy.slot_lease())
    assert courtesy.lease_slots(provider=provider, holder=holder(), wanted=3) == 3


def test_renew_slots_leaves_other_holders_slots_alone(account, clock):
    provider = make_provider(account, max_in_flight=2)
    renewing, other = holder(), holder()
    courtesy.lease_slots(provider=provider, holder=renewing, wanted=1)
    courtesy.lease_slots(provider=provider, holder=other, wanted=1)

    clock.shift(courtesy.slot_lease() / 2)
    courtesy.renew_slots(holder=renewing)

    expiries = dict(ProviderSlot.objects.values_list("holder", "expires_at"))
    assert expiries[other] == T0 + courtesy.slot_lease()
    assert expiries[renewing] == T0 + courtesy.slot_lease() / 2 + courtesy.slot_lease()


# --- free_slots ------------------------------------------------------------------------------


def test_free_slots_gives_back_every_slot_of_the_holder(account, clock):
    one = make_provider(account, name="One", max_in_flight=2)
    two = make_provider(account, name="Two", max_in_flight=2)
    worker, other = holder(), holder()
    for provider in (one, two):
        courtesy.lease_slots(provider=provider, holder=worker, wanted=2)

    courtesy.free_slots(holder=worker)

    assert courtesy.lease_slots(provider=one, holder=other, wanted=2) == 2
    assert courtesy.lease_slots(provider=two, holder=other, wanted=2) == 2
    assert not ProviderSlot.objects.filter(holder=worker).exists()


def test_free_slots_of_one_provider_keeps_the_others(account, clock):
    one = make_provider(account, name="One", max_in_flight=2)
    two = make_provider(account, name="Two", max_in_flight=2)
    worker, other = holder(), holder()
    for provider in (one, two):
        courtesy.lease_slots(provider=provider, holder=worker, wanted=2)

    courtesy.free_slots(holder=worker, provider_id=one.pk)

    assert courtesy.lease_slots(provider=one, holder=other, wanted=2) == 2
    assert courtesy.lease_slots(provider=two, holder=other, wanted=2) == 0
    assert ProviderSlot.objects.filter(holder=worker, provider=two).count() == 2


def test_free_slots_leaves_other_holders_slots_alone(account, clock):
    provider = make_provider(account, max_in_flight=2)
    leaving, staying = holder(), holder()
    courtesy.lease_slots(provider=provider, holder=leaving, wanted=1)
    courtesy.lease_slots(provider=provider, holder=staying, wanted=1)

    courtesy.free_slots(holder=leaving)

    assert ProviderSlot.objects.filter(holder=staying).count() == 1
    assert courtesy.lease_slots(provider=provider, holder=holder(), wanted=2) == 1


# --- take_turn -------------------------------------------------------------------------------


def test_take_turn_without_a_per_second_cap_never_waits(account, clock):
    provider = make_provider(account)

    assert [courtesy.take_turn(provider=provider) for _ in range(5)] == [0.0] * 5


def spacing(rate: int) -> float:
    return 1 / (courtesy.PACE_HEADROOM * rate)


def test_consecutive_turns_are_one_over_the_rate_apart_with_headroom(account, clock):
    provider = make_provider(account, max_per_second=4)

    waits = [courtesy.take_turn(provider=provider) for _ in range(4)]

    assert waits == pytest.approx([0.0, spacing(4), 2 * spacing(4), 3 * spacing(4)])


def test_a_sender_that_waited_for_its_turn_waits_the_spacing_again(account, clock):
    provider = make_provider(account, max_per_second=10)
    courtesy.take_turn(provider=provider)
    wait = courtesy.take_turn(provider=provider)

    clock.shift(dt.timedelta(seconds=wait))

    assert courtesy.take_turn(provider=provider) == pytest.approx(spacing(10))


def test_an_idle_provider_saves_up_no_burst(account, clock):
    provider = make_provider(account, max_per_second=2)
    courtesy.take_turn(provider=provider)

    clock.shift(dt.timedelta(seconds=10))

    assert courtesy.take_turn(provider=provider) == 0.0
    assert courtesy.take_turn(provider=provider) == pytest.approx(spacing(2))


def test_each_provider_keeps_its_own_pace(account, clock):
    one = make_provider(account, name="One", max_per_second=1)
    two = make_provider(account, name="Two", max_per_second=1)
    courtesy.take_turn(provider=one)

    assert courtesy.take_turn(provider=two) == 0.0
    assert courtesy.take_turn(provider=one) == pytest.approx(spacing(1))
