"""The message catalog: every sentence a citizen reads comes from catalog.yml through `t()`."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

from bot.settings import get_settings


@cache
def _catalog() -> dict[str, Any]:
    text = resources.files("bot").joinpath("catalog.yml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def t(key: str, **values: Any) -> str:
    """The sentence at `key` ("welcome.follow"), with placeholders filled.

    City facts ({city}, {phone}, {hours}) are filled from settings unless given.
    """
    node: Any = _catalog()
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(f"catalog has no {key!r}")
        node = node[part]
    if not isinstance(node, str):
        raise KeyError(f"catalog key {key!r} is not a sentence")
    settings = get_settings()
    facts = {"city": settings.city_name, "phone": settings.city_phone, "hours": settings.city_hours}
    return node.format(**(facts | values))
