"""Unattended runs: schedules, sensors, automation policies and the scheduler loop."""
