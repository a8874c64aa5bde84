"""The verified-token memory: a remembered token still expires, and the memory stays bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from litestar.exceptions import NotAuthorizedException
from litestar.security.jwt import Token

from quoin.auth import tokens as tokens_module
from quoin.auth.tokens import TokenVerifier


class Decoder:
    """Stands in for JWT decoding: counts calls and gives each encoded token its own claims."""

    def __init__(self, lifetime: timedelta) -> None:
        self.lifetime = lifetime
        self.calls: list[str] = []

    def __call__(self, encoded: str) -> Token:
        self.calls.append(encoded)
        return Token(sub=encoded, exp=datetime.now(UTC) + self.lifetime)


def test_a_token_is_decoded_once_then_remembered() -> None:
    decode = Decoder(timedelta(minutes=5))
    verifier = TokenVerifier(decode)

    first, second = verifier.verify("a"), verifier.verify("a")

    assert first.sub == second.sub == "a"
    assert decode.calls == ["a"]


def test_a_remembered_token_is_refused_after_its_exp(monkeypatch: pytest.MonkeyPatch) -> None:
    verifier = TokenVerifier(Decoder(timedelta(minutes=5)))
    verifier.verify("a")

    later = datetime.now(UTC) + timedelta(minutes=6)

    class Clock(datetime):
        @classmethod
        def now(cls, tz: object = None) -> datetime:  # type: ignore[override]
            return later

    monkeypatch.setattr(tokens_module, "datetime", Clock)

    with pytest.raises(NotAuthorizedException):
        verifier.verify("a")


def test_the_memory_is_bounded_and_forgets_the_oldest_token() -> None:
    decode = Decoder(timedelta(minutes=5))
    verifier = TokenVerifier(decode, size=2)

    for encoded in ("a", "b", "c", "b", "a"):
        verifier.verify(encoded)

    # "a" was forgotten when "c" came in, so it was decoded again; "b" was still remembered.
    assert decode.calls == ["a", "b", "c", "a"]
