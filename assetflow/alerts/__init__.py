"""Alerts: where incidents are told (destinations), what they are told, and sending it.

`settings` reads the `[tool.assetflow.alerts.NAME]` tables, `message` says what an
alert holds and renders it per destination kind, `destinations` sends one message
once and classifies the answer, and `backoff` says when a failing one is tried again.
This module imports nothing, so that importing the package stays cheap.
"""
