"""One package per capability: models.py (tables), service.py (rules), flow.py (the conversation)."""
