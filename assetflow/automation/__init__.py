"""Unattended runs: schedules (when ticks fall, what a schedule is), and later the scheduler.

Kept light on purpose: importing the package imports nothing heavy; the modules
(`cadence`, `calendars`, `schedules`) are imported where they are used.
"""
