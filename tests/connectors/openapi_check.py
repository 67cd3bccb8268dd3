"""Check what a connector sent to a fake platform, and what the fake answered, against the
platform's official OpenAPI document (``tests/specs/``):

- the server: the request's scheme and host are one of the document's ``servers`` (a templated
  server, such as Mastodon's ``https://{hostname}``, must be the instance the account was
  configured with), or an alias the caller names with its reason;
- the security scheme: an ``Authorization`` of a kind the operation's ``security`` accepts,
  read from the document's ``securitySchemes`` (openapi-core cannot check OAuth 2.0 schemes at
  all: it warns and lets every request through, so this check is ours);
- the operation, its parameters and body, with every limit the schemas state (lengths, item
  counts, enums, minimum and maximum), by openapi-core;
- the answer: status, content type, headers and body against the operation's responses, by
  openapi-core.

The X document fails openapi-spec-validator (a duplicated enum value), so the document itself
is not validated.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
import responses
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from openapi_core.exceptions import OpenAPIError
from openapi_core.templating.paths.finders import APICallPathFinder

SPECS = Path(__file__).resolve().parent.parent / "specs"
PROBLEM_JSON = "application/problem+json"

# RFC 6750 section 2.1: the credentials of "Bearer" are one b64token.
B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
# RFC 5849 section 3.5.1: the parameters an OAuth 1.0a request signed with a user's token
# carries in its "OAuth" Authorization header (oauth_version is optional, and "1.0" if given).
OAUTH1_PARAMS = (
    "oauth_consumer_key",
    "oauth_token",
    "oauth_signature_method",
    "oauth_timestamp",
    "oauth_nonce",
    "oauth_signature",
)
OAUTH1_PARAM = re.compile(r'\s*([a-z_]+)="([^"]*)"\s*(?:,|$)')


class WrongServer(OpenAPIError):
    """The request went to a scheme and host the document does not name."""


class WrongSecurity(OpenAPIError):
    """The request's Authorization is none of the kinds the operation's security accepts."""


def origin(url: str) -> str:
    """``scheme://host[:port]`` of a URL, lower case, the default port left out."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    port = parts.port
    default = {"https": 443, "http": 80}.get(scheme)
    return f"{scheme}://{host}" if port in (None, default) else f"{scheme}://{host}:{port}"


class SpecCheck:
    """One OpenAPI document, loaded once. ``aliases`` maps another origin the connector may use
    to the document's own, each with the reason it is allowed."""

    def __init__(self, filename: str, *, aliases: Mapping[str, tuple[str, str]] | None = None) -> None:
        self.document: dict[str, Any] = json.loads((SPECS / filename).read_text())
        # openapi-core reads only application/json as JSON; X's errors are problem+json.
        config = Config(spec_validator_cls=None, extra_media_type_deserializers={PROBLEM_JSON: json.loads})
        self.api = OpenAPI.from_dict(self.document, config=config)
        self.finder = APICallPathFinder(self.api.spec)
        self.aliases = {origin(alias): origin(target) for alias, (target, _why) in (aliases or {}).items()}
        self.prefixes = {"/" + path.strip("/").split("/")[0] + "/" for path in self.document["paths"]}

    def covers(self, url: str) -> bool:
        """Whether a URL's path is under one of the document's top-level path segments."""
        return any(urlsplit(url).path.startswith(prefix) for prefix in self.prefixes)

    # -- requests ---------------------------------------------------------------------------

    def validate(self, request: requests.PreparedRequest, *, instances: Collection[str] = ()) -> None:
        """Raise an OpenAPIError unless the request fits the document: server, security,
        operation, parameters and body. ``instances``: the origins a templated server may take
        (the instances the accounts were configured with)."""
        documented = self.check_server(str(request.url), instances)
        request = self._on_documented_host(request, documented)
        path_only = urlsplit(str(request.url))._replace(query="", fragment="").geturl()
        operation = self.finder.find(str(request.method).lower(), path_only).operation
        security = operation / "security"
        self.check_security(request, security.read_value() if security.exists() else None)
        with warnings.catch_warnings():
            # openapi-core's own security check: a no-op for OAuth 2.0 (it warns), done above.
            warnings.filterwarnings("ignore", "Unsupported scheme type", UserWarning)
            self.api.validate_request(RequestsOpenAPIRequest(request))

    def validate_response(
        self, request: requests.PreparedRequest, response: requests.Response, *, instances: Collection[str] = ()
    ) -> None:
        """Raise an OpenAPIError unless the answer fits the operation's documented responses."""
        documented = self.check_server(str(request.url), instances)
        request = self._on_documented_host(request, documented)
        self.api.validate_response(RequestsOpenAPIRequest(request), RequestsOpenAPIResponse(response))

    def check_server(self, url: str, instances: Collection[str] = ()) -> str:
        """The document's origin the URL is on (an alias mapped to its target); WrongServer if
        none. A templated server matches only one of ``instances``."""
        sent = origin(url)
        sent = self.aliases.get(sent, sent)
        fixed, templated = [], False
        for server in self.document.get("servers") or [{"url": "/"}]:
            if "{" in server["url"]:
                templated = True
            else:
                fixed.append(origin(server["url"]))
        if sent in fixed:
            return sent
        if templated and sent in {origin(instance) for instance in instances}:
            return sent
        allowed = fixed + (
            [f"the configured instance ({', '.join(sorted(instances)) or 'none configured'})"] * templated
        )
        raise WrongServer(f"{url}: {sent} is not a server of this document; allowed: {', '.join(allowed)}")

    def _on_documented_host(self, request: requests.PreparedRequest, documented: str) -> requests.PreparedRequest:
        if origin(str(request.url)) == documented:
            return request
        moved = request.copy()
        parts = urlsplit(str(request.url))
        moved.url = parts._replace(scheme=urlsplit(documented).scheme, netloc=urlsplit(documented).netloc).geturl()
        return moved

    def check_security(self, request: requests.PreparedRequest, security: list[dict[str, Any]] | None) -> None:
        """WrongSecurity unless one of the operation's security requirements (``security``;
        None: the document's) is met in full by the request's Authorization."""
        requirements = security if security is not None else self.document.get("security") or []
        if not requirements or any(not requirement for requirement in requirements):
            return  # the document asks for nothing here
        schemes = self.document["components"]["securitySchemes"]
        authorization: str | bytes | None = request.headers.get("Authorization")
        if isinstance(authorization, bytes):  # requests-oauthlib may set it as bytes
            authorization = authorization.decode("latin-1")
        problems = []
        for requirement in requirements:
            missing = [
                f"{name}: {problem}"
                for name in requirement
                if (problem := self._unmet(schemes[name], authorization, request)) is not None
            ]
            if not missing:
                return
            problems.extend(missing)
        raise WrongSecurity(f"{request.method} {request.url}: no security requirement is met ({'; '.join(problems)})")

    @staticmethod
    def _unmet(scheme: Mapping[str, Any], authorization: str | None, request: requests.PreparedRequest) -> str | None:
        """Why the request does not carry this scheme's credentials, or None if it does."""
        kind = scheme["type"]
        if kind == "apiKey":
            source = request.headers if scheme["in"] == "header" else dict(_query(str(request.url)))
            return None if scheme["name"] in source else f"no {scheme['in']} {scheme['name']}"
        if kind in ("oauth2", "openIdConnect"):
            expected = "bearer"  # an OAuth 2.0 access token goes as a bearer token (RFC 6750)
        elif kind == "http":
            expected = str(scheme["scheme"]).lower()
        else:
            return f"a {kind} scheme this check does not know"
        if not authorization:
            return f"no Authorization header (wanted {expected})"
        given, _, credentials = authorization.partition(" ")
        if given.lower() != expected:
            return f"Authorization is {given}, not {expected}"
        if expected == "bearer" and not B64TOKEN.fullmatch(credentials.strip()):
            return "the bearer token is empty or not a b64token"
        if expected == "oauth":
            return _oauth1_unmet(credentials)
        if expected == "basic" and not credentials.strip():
            return "no basic credentials"
        return None


def _oauth1_unmet(credentials: str) -> str | None:
    params = {name: unquote(value) for name, value in OAUTH1_PARAM.findall(credentials)}
    absent = [name for name in OAUTH1_PARAMS if not params.get(name)]
    if absent:
        return f"OAuth 1.0a without {', '.join(absent)}"
    if params.get("oauth_version", "1.0") != "1.0":
        return f"oauth_version {params['oauth_version']}, not 1.0"
    if not params["oauth_timestamp"].isdigit():
        return "oauth_timestamp is not a number of seconds"
    return None


def _query(url: str) -> Iterable[tuple[str, str]]:
    for pair in urlsplit(url).query.split("&"):
        name, _, value = pair.partition("=")
        if name:
            yield unquote(name), unquote(value)


class Contract:
    """Every call a ``responses`` fake saw, checked against the documents that cover it: the X
    document by its servers (and tweepy's alias), the Mastodon document by its paths on the
    instances Mastodon connectors were configured with. Calls to other platforms are left to
    their own tests."""

    def __init__(self, x: SpecCheck, mastodon: SpecCheck) -> None:
        self.x = x
        self.mastodon = mastodon
        self.mastodon_instances: set[str] = set()

    def spec_for(self, url: str) -> SpecCheck | None:
        """The document a request to ``url`` must fit, or None if neither covers it."""
        sent = origin(url)
        if sent in self.x.aliases or sent in {origin(server["url"]) for server in self.x.document["servers"]}:
            return self.x
        if sent in self.mastodon_instances or self.mastodon.covers(url):
            return self.mastodon
        return None

    def check_requests(self, calls: responses.CallList) -> int:
        """Validate every request that a document covers; how many were checked."""
        checked = 0
        for call in calls:
            spec = self.spec_for(str(call.request.url))
            if spec is not None:
                spec.validate(call.request, instances=self.mastodon_instances)
                checked += 1
        return checked

    def check_responses(self, calls: responses.CallList) -> int:
        """Validate every answer (not a network failure) a document covers; how many were."""
        checked = 0
        for call in calls:
            spec = self.spec_for(str(call.request.url))
            if spec is not None and isinstance(call.response, requests.Response):
                spec.validate_response(call.request, call.response, instances=self.mastodon_instances)
                checked += 1
        return checked
