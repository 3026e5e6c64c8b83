"""The forms' staff screens (filled in by handlers/forms/admin/*.py)."""

from __future__ import annotations

from typing import Any

SCREENS: tuple[Any, ...] = ()
