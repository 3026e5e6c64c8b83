"""Free text as both databases store it: PostgreSQL refuses NUL in text, and no other control
character (but line breaks and tabs) belongs in what staff or other systems send. A field typed
`PlainStr` refuses them with 422 instead of failing on the database."""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator

ALLOWED_CONTROLS = "\n\r\t"


def printable(value: str) -> str:
    if any(unicodedata.category(ch) == "Cc" and ch not in ALLOWED_CONTROLS for ch in value):
        raise ValueError("control characters are not allowed")
    return value


PlainStr = Annotated[str, AfterValidator(printable)]
