"""Notifications: the mail outbox and its delivery."""
