"""Counter reservation rules (no LINE, HTTP or Jinja2 here), one module per concern:

- setup: offices, procedures, slot rules and closed days (the counter as the city sets it up)
- slots: the counter slots those rules make, what is free, and taking and giving back a place
- reservations: bookings (made, moved, cancelled, followed at the counter) and their personal data
- reminders: which reminders are due, and the marker that sends each once
- seed: the sample data
- errors: what the rules refuse

Callers own the transaction (one per inbox event, one per admin request); functions here flush.
"""
