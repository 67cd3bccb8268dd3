"""People: users, roles and tokens, console sign-in."""
