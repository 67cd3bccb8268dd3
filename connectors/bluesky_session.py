"""Bluesky sessions, created once per account and kept for the life of the process.

A PDS allows ``createSession`` 30 times in 5 minutes and 300 times a day per account, and a
connector is built for every send: logging in per post would stall an incident's mass
deletion at the 31st call. So one atproto ``Client`` per account (service URL, identifier, a
hash of the app password, outbound policy) is kept here, shared by every connector and thread.
atproto refreshes the access token itself shortly before it expires (``refreshSession``);
when the PDS refuses a token anyway (expired early, revoked), the session is refreshed here
and the call made again (the PDS did nothing with it), and only when the refresh is refused
too does the account log in again.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from atproto_client import Client
from atproto_client.client.session import Session, SessionEvent
from atproto_client.exceptions import RequestErrorBase
from atproto_client.request import Request, RequestBase

from connectors.bluesky_errors import connector_error, token_refused
from connectors.http_pinned import new_client
from connectors.outbound import OutboundPolicy

T = TypeVar("T")


class _TokenRefused(Exception):
    """The PDS refused the call's token and did nothing else."""


class PolicedRequest(Request):  # type: ignore[misc]  # atproto ships no type information
    """atproto's HTTP layer on an httpx client under the outbound policy: atproto's own client
    follows redirects and takes no transport that could pin the checked address."""

    def __init__(self, outbound: OutboundPolicy | None, on_send: Callable[[httpx.Request], None]) -> None:
        RequestBase.__init__(self)  # not Request's: it builds the client this one replaces
        self._outbound, self._on_send = outbound, on_send
        self._client_kwargs: dict[str, Any] = {}
        self._client = new_client(outbound, on_send)

    def _new_instance(self) -> PolicedRequest:
        return type(self)(self._outbound, self._on_send)


class KeptSession:
    """One account's client and session; ``call`` runs a request with a valid token."""

    def __init__(self, service: str, identifier: str, password: str, outbound: OutboundPolicy | None) -> None:
        self.service = service
        self.identifier = identifier
        self._password = password
        self._lock = threading.Lock()
        # How many requests this thread has handed to the transport: a failure with none sent
        # cannot have published anything.
        self._sent = threading.local()
        self.client = Client(base_url=service, request=PolicedRequest(outbound, self._sending))
        self.client.on_session_change(self._changed)
        self.session: Session | None = None
        # What happened to the session, for the tests and the closing note's figures.
        self.logins = 0
        self.refreshes = 0

    def _changed(self, event: SessionEvent, session: Session) -> None:
        # atproto moves the client to the PDS the account's DID document names; the token stays
        # with the service its secret was bound to (an entryway forwards what it does not host).
        self.client.update_base_url(self.service)
        self.session = session
        if event is SessionEvent.CREATE:
            self.logins += 1
        elif event is SessionEvent.REFRESH:  # atproto's own, just before the token expires
            self.refreshes += 1

    def _sending(self, _request: httpx.Request) -> None:
        self._sent.count = self._sent_count() + 1

    def _sent_count(self) -> int:
        return int(getattr(self._sent, "count", 0))

    @property
    def did(self) -> str:
        """The account's DID (after the first call)."""
        return self.session.did if self.session else ""

    def call(self, method: str, request: Callable[[Client], T], *, publishes: bool = False) -> T:
        """Run ``request`` on the logged-in client; a token the PDS refuses is renewed once."""
        with self._lock:
            if self.session is None:
                self._login()
            used = self.session
        try:
            return self._run(method, request, publishes=publishes, renew_refused=True)
        except _TokenRefused:
            pass
        with self._lock:
            if self.session is used:  # no other thread renewed it meanwhile
                self._renew()
        return self._run(method, request, publishes=publishes, renew_refused=False)

    def renew(self) -> None:
        """Prove the app password still stands: refreshSession now, which the PDS refuses once
        the app password is revoked, though it honours the access token until it expires; a
        refused refresh logs in again, which then fails as the password does."""
        with self._lock:
            if self.session is None:
                self._login()
            else:
                self._renew()

    def _run(self, method: str, request: Callable[[Client], T], *, publishes: bool, renew_refused: bool) -> T:
        before = self._sent_count()
        try:
            return request(self.client)
        except Exception as exc:
            if renew_refused and token_refused(exc):
                raise _TokenRefused from exc
            sent = self._sent_count() > before
            raise connector_error(method, exc, publishes=publishes, sent=sent) from exc

    def _login(self) -> None:
        try:
            self.client.login(self.identifier, self._password, fetch_bsky_profile=False)
        except Exception as exc:
            raise connector_error("com.atproto.server.createSession", exc, publishes=False) from exc

    def _renew(self) -> None:
        """refreshSession with the refresh token; log in again only if the PDS refuses that."""
        assert self.session is not None
        refresh = {"Authorization": f"Bearer {self.session.refresh_jwt}"}
        try:
            answer: Any = self.client.com.atproto.server.refresh_session(headers=refresh, ignore_session_check=True)
        except RequestErrorBase as exc:
            if exc.response is None or exc.response.status_code not in (400, 401):
                raise connector_error("com.atproto.server.refreshSession", exc, publishes=False) from exc
            self._login()  # the refresh token is spent, expired or revoked
            return
        except Exception as exc:
            raise connector_error("com.atproto.server.refreshSession", exc, publishes=False) from exc
        renewed = Session(answer.handle, answer.did, answer.access_jwt, answer.refresh_jwt, self.service)
        self.client.login(session_string=renewed.export(), fetch_bsky_profile=False)
        self.refreshes += 1


class SessionCache:
    """Every account's kept session in this process, thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[tuple[str, str, str, OutboundPolicy | None], KeptSession] = {}

    def session(self, service: str, identifier: str, password: str, outbound: OutboundPolicy | None) -> KeptSession:
        """The kept session for this account, made (not yet logged in) on first use. A new app
        password gets a new session, so a rotated password is used at once."""
        digest = hashlib.sha256(password.encode()).hexdigest()
        key = (service, identifier, digest, outbound)
        with self._lock:
            kept = self._sessions.get(key)
            if kept is None:
                kept = self._sessions[key] = KeptSession(service, identifier, password, outbound)
            return kept

    def clear(self) -> None:
        """Forget every session and close its connections (tests; a fresh start)."""
        with self._lock:
            kept, self._sessions = list(self._sessions.values()), {}
        for session in kept:
            session.client.request.close()


SESSIONS = SessionCache()
