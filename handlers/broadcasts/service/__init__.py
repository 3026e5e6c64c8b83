"""The broadcasts' rules, one module per subject: topics and subscriptions (topics.py), member groups
and registration codes (groups.py), broadcasts, approval, quiet hours and runs (broadcasts.py), and
who an audience reaches (audience.py). No LINE or HTTP inside."""
