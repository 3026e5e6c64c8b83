"""What the classes' rules refuse, as domain exceptions (never HTTP ones). `code` picks what staff
read (api.py); the conversation answers each kind in its own words."""

from __future__ import annotations


class ClassError(Exception):
    """A rule said no."""

    code = "error"


class NotFound(ClassError):
    code = "not_found"


class SignupClosed(ClassError):
    """Not open yet, past the deadline, started, or called off."""

    code = "signup_closed"


class AlreadySignedUp(ClassError):
    """This person already has a place (or a waitlist entry, or an application) in this session."""

    code = "already_signed_up"


class LimitReached(ClassError):
    code = "limit_reached"


class InvalidTransition(ClassError):
    code = "invalid_transition"


class InvalidSession(ClassError):
    code = "invalid_session"
