"""The dispatchers table's leases: how long a heartbeat vouches for a scheduler process, and
whether a process that holds one is still alive on this host.

Both the dispatcher (recovering a dead one's claims) and restore (refusing while a scheduler
lives) ask these questions, so they live in the store beside the table, not in either.
"""

from __future__ import annotations

import os
import socket

LEASE_SECONDS = 120.0  # longer than any one send (connect + read timeouts) and a few ticks


def pid_domain() -> str:
    """Where this process's pid means something: the host, and on Linux its pid namespace (two
    containers may share a host name and a database file, but not their pids)."""
    host = socket.gethostname()
    try:
        return f"{host} {os.readlink('/proc/self/ns/pid')}"
    except OSError:
        return host


def process_gone(pid: int) -> bool:
    """True only if no process has this pid here. Signal 0 checks without sending anything;
    on Windows os.kill would terminate the process, so there nothing is ever taken for gone."""
    if os.name != "posix" or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # PermissionError: it exists, as another user
    return False
