"""Everything pushed without being asked: scheduler, broadcast delivery, reminders."""
