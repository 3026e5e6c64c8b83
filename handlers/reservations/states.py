"""The states of the booking conversations, each named after what the bot waits for."""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    PROCEDURE = "procedure"  # which procedure
    OFFICE = "office"  # which office
    DATE = "date"  # which day
    PART = "part"  # morning or afternoon (when a day has more times than fit on the buttons)
    TIME = "time"  # which time
    ANSWER = "answer"  # the answer to the current form question
    LEAVE_FORM = "leave_form"  # a question was typed instead: 予約を続ける, or the question again (leaves)
    CONFIRM = "confirm"  # 「この内容で予約する」, 戻る or やめる
    CHANGE_CONFIRM = "change_confirm"  # yes/no to moving a booking to the chosen time
