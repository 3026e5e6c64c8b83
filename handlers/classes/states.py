"""Where a class conversation waits (its names are stored in the conversation row)."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    WHO = "cls_who"
    NAME = "cls_name"
    FURIGANA = "cls_furigana"
    PHONE = "cls_phone"
    PHONE_TYPE = "cls_phone_type"
    AGE = "cls_age"
    NEEDS = "cls_needs"
    CONFIRM = "cls_confirm"
    CANCEL = "cls_cancel"
