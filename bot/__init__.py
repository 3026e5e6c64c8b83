"""LINE channel: webhook, inbox, dispatcher, LINE client, message builders, CLI and sandbox."""
