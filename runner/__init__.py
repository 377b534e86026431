"""Nudge: payment reminders as code."""

__version__ = "0.1.0"
