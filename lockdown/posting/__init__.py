"""Posting: posts and their review, the dispatcher that sends them, their CSV import and length rules."""
