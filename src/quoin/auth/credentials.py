"""Credentials other than a bearer token, resolved by the feature that issues them."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from litestar.datastructures import Headers
from litestar.openapi.spec import SecurityScheme
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["CredentialResolver", "header_value"]

# Optional whitespace around a header value is not part of it (RFC 9110 §5.5); servers differ in trimming it.
_OWS = " \t"


def header_value(headers: Headers, name: str) -> str | None:
    """A header's value without surrounding optional whitespace; None when absent."""
    value = headers.get(name)
    return None if value is None else value.strip(_OWS)


class CredentialResolver(Protocol):
    """A credential sent in a header of its own (an API key), and how to find the user it acts for.

    A request carrying ``header`` is authenticated by it alone (a bearer token
    beside it is ignored); ``request.auth`` is then ``auth_name``. The scheme is
    documented in OpenAPI under ``scheme_name``.
    """

    header: str
    auth_name: str
    scheme_name: str
    scheme: SecurityScheme
    refusal: str  # the 401's detail for a credential that resolves to nobody

    def known_owner(self, value: str) -> UUID | None:
        """The owner of a credential remembered as valid, without the database; None when not known so."""
        ...

    async def owner(self, value: str, session: AsyncSession) -> UUID | None:
        """The id of the user the credential acts for, or None if it is unknown, expired or revoked.

        Read from the database; a resolver may remember the answer for ``known_owner`` (``quoin.db.changes``).
        """
        ...
