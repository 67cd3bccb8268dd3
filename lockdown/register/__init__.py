"""The account register: accounts, their CSV import and their monitored hours."""
