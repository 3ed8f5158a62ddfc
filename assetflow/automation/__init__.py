"""Unattended runs: schedules, sensors, automation policies and the scheduler loop.

Kept light on purpose: importing the package imports nothing heavy; the modules
(`cadence`, `calendars`, `schedules`, `sensors`, `scheduler`) are imported where
they are used.
"""
