"""The local stack's dev tokens (frolic_tools.local.devauth): what the gateway lets
through is a token this run signed with HS256, unexpired, naming its subject; anything
else, however it was made, is refused before a function runs."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from joserfc import jws, jwt
from joserfc.jwk import OctKey

from frolic.auth import ADMIN_GROUP
from frolic_tools.local.devauth import (
    ALGORITHM,
    ISSUER,
    TOKEN_SECONDS,
    DevTokens,
    InvalidTokenError,
)

KEY = b"unit-test-key-of-thirty-two-byte"
OTHER_KEY = b"another-key-nobody-here-uses-32b"


@dataclass
class Clock:
    now: float = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tokens(clock: Clock) -> DevTokens:
    return DevTokens(KEY, clock=clock)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed(claims: dict[str, Any], *, key: bytes = KEY, alg: str = ALGORITHM) -> str:
    """A token signed as the caller says, not as the issuer would."""
    return jwt.encode({"alg": alg}, claims, OctKey.import_key(key), algorithms=[alg])


def valid_claims(clock: Clock, **changes: Any) -> dict[str, Any]:
    now = int(clock.now)
    claims: dict[str, Any] = {"sub": "ann", "iss": ISSUER, "iat": now, "exp": now + 60}
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def test_an_issued_token_verifies_with_its_identity_groups_and_lifetime(
    tokens: DevTokens,
) -> None:
    player = tokens.verify(tokens.issue("ann.lee:42"))
    admin = tokens.verify(tokens.issue("root", admin=True))
    assert player["sub"] == "ann.lee:42"
    assert "cognito:groups" not in player
    assert player["exp"] - player["iat"] == TOKEN_SECONDS
    assert admin["cognito:groups"] == [ADMIN_GROUP]


def test_a_token_is_verified_by_any_verifier_holding_the_same_key(
    tokens: DevTokens, clock: Clock
) -> None:
    assert DevTokens(KEY, clock=clock).verify(tokens.issue("ann"))["sub"] == "ann"


def test_a_token_signed_by_hand_with_the_key_and_every_required_claim_passes(
    tokens: DevTokens, clock: Clock
) -> None:
    """The refusals below differ from this token in one respect each."""
    assert tokens.verify(signed(valid_claims(clock)))["sub"] == "ann"


def test_a_token_is_good_until_its_exp_and_refused_from_then_on(
    tokens: DevTokens, clock: Clock
) -> None:
    token = tokens.issue("ann", lifetime_seconds=60)
    clock.now += 59
    assert tokens.verify(token)["sub"] == "ann"
    clock.now += 1
    with pytest.raises(InvalidTokenError):
        tokens.verify(token)


def test_an_expired_token_is_refused(tokens: DevTokens) -> None:
    with pytest.raises(InvalidTokenError):
        tokens.verify(tokens.issue("ann", lifetime_seconds=-1))


def _alg_none(clock: Clock) -> str:
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{b64(json.dumps(valid_claims(clock)).encode())}."


def _bad_signature(clock: Clock) -> str:
    header, payload, signature = signed(valid_claims(clock)).split(".")
    flipped = "A" if signature[0] != "A" else "B"
    return f"{header}.{payload}.{flipped}{signature[1:]}"


def _tampered_claims(clock: Clock) -> str:
    header, _, signature = signed(valid_claims(clock)).split(".")
    admin = b64(json.dumps(valid_claims(clock, **{"cognito:groups": [ADMIN_GROUP]})).encode())
    return f"{header}.{admin}.{signature}"


def _array_payload() -> str:
    key = OctKey.import_key(KEY)
    return jws.serialize_compact({"alg": ALGORITHM}, b"[1, 2]", key, algorithms=[ALGORITHM])


REFUSED: dict[str, Callable[[Clock], str]] = {
    "alg none": _alg_none,
    "HS384 with the same key": lambda c: signed(valid_claims(c), alg="HS384"),
    "HS512 with the same key": lambda c: signed(valid_claims(c), alg="HS512"),
    "another key": lambda c: signed(valid_claims(c), key=OTHER_KEY),
    "bad signature": _bad_signature,
    "tampered claims": _tampered_claims,
    "expired": lambda c: signed(valid_claims(c, exp=int(c.now))),
    "no exp": lambda c: signed(valid_claims(c, exp=None)),
    "exp not a number": lambda c: signed(valid_claims(c, exp="tomorrow")),
    "no iat": lambda c: signed(valid_claims(c, iat=None)),
    "issued in the future": lambda c: signed(valid_claims(c, iat=int(c.now) + 30)),
    "no sub": lambda c: signed(valid_claims(c, sub=None)),
    "empty sub": lambda c: signed(valid_claims(c, sub="")),
    "sub not a string": lambda c: signed(valid_claims(c, sub=42)),
    "another issuer": lambda c: signed(valid_claims(c, iss="someone-else")),
    "no issuer": lambda c: signed(valid_claims(c, iss=None)),
    "claims not an object": lambda c: _array_payload(),
    "two parts": lambda c: ".".join(signed(valid_claims(c)).split(".")[:2]),
    "garbage": lambda c: "not-a-token",
    "empty": lambda c: "",
}


@pytest.mark.parametrize("kind", sorted(REFUSED))
def test_a_token_that_is_not_this_runs_valid_hs256_token_is_refused(
    tokens: DevTokens, clock: Clock, kind: str
) -> None:
    with pytest.raises(InvalidTokenError):
        tokens.verify(REFUSED[kind](clock))
