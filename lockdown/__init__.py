"""Lockdown: an emergency communications lockdown controller for a university's social media."""

__version__ = "0.1.0"
