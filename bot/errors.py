"""What a failure may say where staff and logs read it: never the values a statement was bound with.

SQLAlchemy's and the drivers' messages carry the statement's parameters and sometimes the row's
values (a name, a phone number): an error kept for staff (dead letters) or written to the log is
described by its kinds, the driver's SQLSTATE and the stack, not by its message.
"""

from __future__ import annotations

import traceback

from sqlalchemy.exc import DBAPIError, StatementError


def describe(exc: BaseException) -> str:
    """One line: the exception's kind and, for database errors, only what carries no data."""
    if isinstance(exc, StatementError):
        original = exc.orig
        code = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
        kind = type(original).__name__ if original is not None else "error"
        wrapper = "DBAPIError" if isinstance(exc, DBAPIError) else type(exc).__name__
        return f"{type(exc).__name__} ({wrapper}: {kind}{f', SQLSTATE {code}' if code else ''})"
    return "".join(traceback.format_exception_only(exc)).strip()


def describe_with_stack(exc: BaseException, limit: int = 8) -> str:
    """`describe(exc)` and where it happened (the frames, without the message again)."""
    frames = "".join(traceback.format_tb(exc.__traceback__, limit=limit))
    return f"{describe(exc)}\n{frames}".rstrip()
