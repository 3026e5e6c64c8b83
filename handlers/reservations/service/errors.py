"""What the counter's rules refuse, as domain exceptions (never HTTP ones). `code` picks what staff
read (api.MESSAGES); the conversation answers each kind in its own words."""

from __future__ import annotations


class ReservationError(Exception):
    """A rule said no."""

    code = "error"


class NotFound(ReservationError):
    code = "not_found"


class SlotFull(ReservationError):
    code = "slot_full"


class SlotNotBookable(ReservationError):
    """Closed, past, outside the booking window or after the cutoff."""

    code = "slot_not_bookable"


class ProcedureNotAtOffice(ReservationError):
    code = "procedure_not_at_office"


class LimitReached(ReservationError):
    code = "limit_reached"


class InvalidTransition(ReservationError):
    code = "invalid_transition"


class NotToday(ReservationError):
    code = "not_today"


class InvalidAnswers(ReservationError):
    code = "invalid_answers"

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


class AlreadyExists(ReservationError):
    code = "already_exists"
