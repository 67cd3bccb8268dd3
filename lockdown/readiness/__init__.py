"""Readiness: whether each account's connection would let a post out now, checked on a schedule
and on demand, with the people who must act told when an account stops being ready."""
