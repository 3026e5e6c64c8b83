"""Greeting, help, the friendly fallback, and what happens when citizens follow or block us."""
