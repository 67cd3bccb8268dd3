"""A fake platform for the watch: one timeline of posts per connector kind that Lockdown's
connectors publish to, that a person can post to "from the app", that lists and deletes, and
that counts the requests the watch spends."""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from connectors.base import Connector, ConnectorError, OutgoingPost, Published, Ready, RemotePost, Unwatchable


class FakePlatform:
    """Posts by kind (every account of a kind shares one timeline here, enough for one held
    account per kind), newest last. ``pages`` posts per page when listing."""

    def __init__(self, clock: Callable[[], datetime], *, page_size: int = 20) -> None:
        self.clock = clock
        self.page_size = page_size
        self.posts: dict[str, list[RemotePost]] = {}
        self.requests: Counter[str] = Counter()
        self.deleted: list[str] = []
        self.list_error: ConnectorError | None = None
        self.delete_error: ConnectorError | None = None
        self.during_list: Callable[[], None] | None = None
        # Kinds that cannot list posts, as the outbox and the webhook cannot.
        self.unlistable: set[str] = set()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def post_natively(self, text: str, kind: str = "outbox") -> RemotePost:
        """A person posts from the platform's own app: Lockdown never sees the request."""
        return self._add(kind, text)

    def _add(self, kind: str, text: str) -> RemotePost:
        with self._lock:
            number = next(self._ids)
            post = RemotePost(f"r{number}", f"https://platform.example/p/{number}", text, self.clock())
            self.posts.setdefault(kind, []).append(post)
        return post

    def factory(self, kind: str, settings: dict[str, Any], secrets: dict[str, str]) -> Connector:
        """A connector factory as ``connectors_for`` gives (kind, settings, secrets)."""
        platform = self

        class Fake(Connector):
            kind = "fake"

            def publish(self, post: OutgoingPost) -> Published:
                made = platform._add(kind, post.body)
                return Published(made.remote_id, made.url)

            def delete(self, remote_id: str) -> None:
                platform.requests[f"{kind}:delete"] += 1
                if platform.delete_error:
                    raise platform.delete_error
                platform.deleted.append(remote_id)
                with platform._lock:
                    platform.posts[kind] = [p for p in platform.posts.get(kind, []) if p.remote_id != remote_id]

            def check(self) -> Ready:
                return Ready(account="@fake")

            def recent_posts(self, since: datetime) -> list[RemotePost]:
                if kind in platform.unlistable:
                    raise Unwatchable("this connector cannot list posts")
                if platform.during_list:
                    platform.during_list()
                platform.requests[kind] += 1
                if platform.list_error:
                    raise platform.list_error
                newest_first = [p for p in reversed(platform.posts.get(kind, [])) if p.posted_at >= since]
                # One request per page beyond the first, as a paginating connector spends.
                platform.requests[kind] += max(0, (len(newest_first) - 1) // platform.page_size)
                return newest_first

        Fake.kind = kind
        return Fake(settings, secrets)
