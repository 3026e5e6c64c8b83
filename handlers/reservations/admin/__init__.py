"""Staff screens for the counter, one module per page group: the day's bookings and check-in
(day.py), one booking and its printable form (booking.py), phone and counter bookings (phone.py),
the counter's setup (setup.py). screens.py puts them together as the section the capability
declares. Form answers are shown to counter and admin roles only.

Views are thin: parse, call a staff action (flows.py) or a service, redirect or render.
"""
