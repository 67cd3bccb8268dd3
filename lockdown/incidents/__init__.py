"""Incidents: declaring and resolving, the timeline, incident messages, playbooks, native schedules, the report."""
