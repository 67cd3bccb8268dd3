"""The JSON API under /api/v1: thin views over the service modules."""
