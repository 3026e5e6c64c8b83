"""The message catalog: every sentence a citizen reads comes from catalog.yml through `t()`."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

from bot.settings import Settings


def _default_facts() -> dict[str, str]:
    fields = Settings.model_fields
    return {
        "city": str(fields["city_name"].default),
        "phone": str(fields["city_phone"].default),
        "hours": str(fields["city_hours"].default),
    }


# The city's facts in every sentence: set from the app's own settings (bot.runtime.configure_process).
_facts: dict[str, str] = _default_facts()


def use_settings(settings: Settings) -> None:
    """Fills {city}, {phone} and {hours} from these settings from now on."""
    global _facts
    _facts = {"city": settings.city_name, "phone": settings.city_phone, "hours": settings.city_hours}


@cache
def _catalog() -> dict[str, Any]:
    text = resources.files("bot").joinpath("catalog.yml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def t(key: str, **values: Any) -> str:
    """The sentence at `key` ("welcome.follow"), with placeholders filled.

    City facts ({city}, {phone}, {hours}) come from the app's settings (`use_settings`) unless given.
    """
    node: Any = _catalog()
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(f"catalog has no {key!r}")
        node = node[part]
    if not isinstance(node, str):
        raise KeyError(f"catalog key {key!r} is not a sentence")
    return node.format(**(_facts | values))
