"""Views: what each screen shows, as text for people and as JSON for scripts and the UI.

The services return data (plans, statuses, runs, histories); `text` renders it
for the terminal, `json` gives each screen's JSON twin (one versioned layout per
screen), `listeners` and `progress` follow a run as it goes.
"""
