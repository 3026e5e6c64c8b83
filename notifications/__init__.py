"""Everything pushed without being asked: the scheduler and its housekeeping (`scheduler`), and the
broadcast delivery engine: its tables (`models`), its interface (`engine`: plan, watch, cancel, quota,
insight), the sending loop run beside the outbox (`sender`) and the shared rate cap (`rate`).
A capability's own reminders are its jobs; its broadcasts call `engine`."""
