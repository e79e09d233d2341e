"""Roles and brands read from a token's claims, as API Gateway's authorizers pass them."""

from __future__ import annotations

import pytest

from frolic.auth import (
    AuthenticationError,
    ForbiddenError,
    principal_from_claims,
    principal_from_event,
)


def test_groups_and_brands_come_as_cognito_passes_them() -> None:
    # A REST authorizer passes every claim as a string; an ID token holds a list
    rest = principal_from_claims(
        {"sub": "mia", "cognito:groups": "brand-manager", "custom:brands": "acme, beta,"}
    )
    token = principal_from_claims({"sub": "tom", "cognito:groups": ["till"]})
    assert (rest.groups, rest.brands) == (frozenset({"brand-manager"}), frozenset({"acme", "beta"}))
    assert (token.groups, token.brands) == (frozenset({"till"}), frozenset())


def test_a_manager_acts_for_their_brands_alone() -> None:
    manager = principal_from_claims(
        {"sub": "mia", "cognito:groups": "brand-manager", "custom:brands": "acme"}
    )
    assert manager.manages("acme") and not manager.manages("beta")
    assert not manager.tills("acme")  # managing is not redeeming
    assert manager.managed() == frozenset({"acme"})
    with pytest.raises(ForbiddenError):
        manager.require_brand("beta")
    with pytest.raises(ForbiddenError):
        manager.require_admin()


def test_a_till_redeems_for_its_brands_and_manages_nothing() -> None:
    till = principal_from_claims({"sub": "tom", "cognito:groups": "till", "custom:brands": "acme"})
    assert till.tills("acme") and not till.tills("beta")
    assert not till.manages("acme")
    assert till.managed() == frozenset()
    assert till.known_brands() == frozenset({"acme"})  # it may read its own brands' names


def test_an_admin_sees_every_brand_and_a_brand_claim_does_not_narrow_it() -> None:
    admin = principal_from_claims({"sub": "ann", "cognito:groups": "admin", "custom:brands": "x"})
    assert admin.managed() is None and admin.known_brands() is None
    assert admin.manages("anything") and admin.tills("anything")


@pytest.mark.parametrize("group", ["admin", "brand-manager", "till"])
def test_staff_are_not_players(group: str) -> None:
    with pytest.raises(ForbiddenError):
        principal_from_claims({"sub": "s", "cognito:groups": group}).require_player()
    player = principal_from_claims({"sub": "p", "custom:brands": "acme"})
    assert player.require_player().user_id == "p"
    assert not player.manages("acme")  # a brand claim without a role grants nothing
    assert player.known_brands() == frozenset()


def test_no_identity_is_refused() -> None:
    with pytest.raises(AuthenticationError):
        principal_from_event({"requestContext": {"authorizer": {"claims": {}}}})
