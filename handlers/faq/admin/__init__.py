"""Staff screens for the FAQ (よくある質問), one module per page group: the entries, their search and
their form (entries.py), the questions the bot could not answer and the one step that handles each
(unanswered.py), the feedback on answers (feedback.py). screens.py puts them together as the section
and dashboard panel the capability declares. What citizens typed is shown to counter and admin roles
only; everyone else sees counts.

Views are thin: parse, call a staff action (flows.py) or a service, redirect or render.
"""
