"""Handoff: a citizen asks for a person. The request is recorded for staff, and the citizen is told
when the office is open and its phone number (and, honestly, when it is closed right now)."""
