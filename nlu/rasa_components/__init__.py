"""Custom Rasa components for Japanese. Loaded by a real Rasa (its own virtualenv, see
nlu/rasa_env.py), never imported by madoguchi itself: `rasa train` and `rasa run` are started with
this package on PYTHONPATH, as `rasa_components.<module>.<Class>` in nlu/config.yml."""
