"""Garbage days: the collection calendar per district, each citizen's district and the evening-before reminder."""
