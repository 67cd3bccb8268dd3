"""Connectors publish a post to one platform. They import nothing from ``lockdown``."""
