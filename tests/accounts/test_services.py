import pytest

from accounts.models import Membership
from accounts.services import account_for_user
from tests import factories

pytestmark = pytest.mark.django_db


def test_a_user_without_an_account_gets_one_they_own(owner):
    account = account_for_user(user=owner)

    assert account.owner == owner
    assert Membership.objects.get(account=account, user=owner).role == Membership.Role.OWNER
    assert account_for_user(user=owner) == account


def test_a_teammate_works_in_the_account_they_joined(owner, teammate):
    account = factories.make_account(owner, members=(teammate,))

    assert account_for_user(user=teammate) == account
