"""The classes' rules, by concern: sessions (what is offered), signups (places, waitlist,
attendance), lottery (the draw), reminders (due, once) and seed (the demo city's samples)."""
