"""The store: the SQLite file, its migrations, the service context, the audit trail, backup and restore."""
