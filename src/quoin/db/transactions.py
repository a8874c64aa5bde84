"""How a service says that its next write is one statement, atomic on its own, so it needs no transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_scoped_session

__all__ = ["as_one_statement"]


async def as_one_statement(session: AsyncSession | async_scoped_session[AsyncSession]) -> None:
    """Run the session's work until its next commit without ``BEGIN``/``COMMIT``: each statement commits on its own.

    For a write that is a single statement (an ``UPDATE … RETURNING``), which
    commits as it completes or fails whole: PostgreSQL is spared two round
    trips. The session takes its connection in autocommit mode (SQLAlchemy's
    per-connection ``isolation_level``, reset when the connection goes back to
    the pool). A session already inside a transaction is left as it is, so
    the statement joins that transaction.
    """
    current = session() if isinstance(session, async_scoped_session) else session
    # A session bound to one connection (as the tests bind theirs) keeps that connection's transaction.
    if isinstance(current.bind, AsyncEngine) and not current.in_transaction():
        await current.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
