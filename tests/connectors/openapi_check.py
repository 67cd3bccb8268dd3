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
- a ``multipart/form-data`` body (a media upload) part by part: a field the schema does not name
  where it allows no others, a file sent as a text field or a text as a file, and a file part
  without a Content-Type are ``WrongForm``; every text field is read as the type its schema
  gives (a form carries ``segment_index`` as the text ``0``, the document says integer) and a
  file as a string of its bytes, so openapi-core checks them against the schema (it reads
  neither: a field's text stays a string, and OpenAPI 3.1 refuses bytes as ``type: string``);
- the answer: status, content type, headers and body against the operation's responses, by
  openapi-core.

The X document fails openapi-spec-validator (a duplicated enum value), so the document itself
is not validated.
"""

from __future__ import annotations

import email.policy
import json
import re
import warnings
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from email.parser import BytesParser
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
MULTIPART = "multipart/form-data"

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


class WrongForm(OpenAPIError):
    """A multipart body's parts do not fit the schema's shape: an unknown field, a file where a
    text belongs or the reverse, a file part without a Content-Type."""


class FilePart(str):
    """A multipart part sent as a file: its bytes as a string of one character per byte
    (latin-1), which a ``type: string, format: binary`` schema holds and measures in bytes."""

    def __new__(cls, data: bytes) -> FilePart:
        return super().__new__(cls, data.decode("latin-1"))


@dataclass(frozen=True)
class Part:
    """One part of a multipart/form-data body."""

    name: str
    data: bytes
    filename: str | None
    content_type: str | None


def multipart_parts(body: bytes, content_type: str) -> list[Part]:
    """The parts of a multipart/form-data body, in order (RFC 7578)."""
    message = BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        raise WrongForm(f"the body is not multipart ({content_type})")
    parts = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise WrongForm("a multipart part has no name")
        filename = part.get_param("filename", header="content-disposition")
        parts.append(
            Part(
                name=name,
                data=part.get_payload(decode=True) or b"",
                filename=filename if isinstance(filename, str) else None,
                content_type=part.get("Content-Type"),
            )
        )
    return parts


def origin(url: str) -> str:
    """``scheme://host[:port]`` of a URL, lower case, the default port left out."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    port = parts.port
    default = {"https": 443, "http": 80}.get(scheme)
    return f"{scheme}://{host}" if port in (None, default) else f"{scheme}://{host}:{port}"


class SpecCheck:
    """One OpenAPI document, loaded once. ``aliases`` maps another origin the connector may use
    to the document's own, each with the reason it is allowed. ``corrections`` replaces the
    schema at a JSON pointer where the document contradicts its own reference page, each with
    the reason; the document's file is left as published."""

    def __init__(
        self,
        filename: str,
        *,
        aliases: Mapping[str, tuple[str, str]] | None = None,
        corrections: Mapping[str, tuple[Any, str]] | None = None,
    ) -> None:
        self.document: dict[str, Any] = json.loads((SPECS / filename).read_text())
        for pointer, (replacement, _why) in (corrections or {}).items():
            correct(self.document, pointer, replacement)
        # openapi-core reads only application/json as JSON; X's errors are problem+json.
        # A multipart body is read by ``_typed_form``, with the schema of the operation being
        # checked (``_form``), set around each validation.
        config = Config(
            spec_validator_cls=None,
            extra_media_type_deserializers={PROBLEM_JSON: json.loads, MULTIPART: self._typed_form},
        )
        self._form: dict[str, Any] | None = None
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
        form = self._form_schema(operation, request)
        if form is not None:
            self.check_form(multipart_parts(request.body or b"", str(request.headers["Content-Type"])), form)
        with warnings.catch_warnings(), self._reading_form(form):
            # openapi-core's own security check: a no-op for OAuth 2.0 (it warns), done above.
            warnings.filterwarnings("ignore", "Unsupported scheme type", UserWarning)
            self.api.validate_request(RequestsOpenAPIRequest(request))

    # -- multipart bodies -------------------------------------------------------------------

    def _form_schema(self, operation: Any, request: requests.PreparedRequest) -> dict[str, Any] | None:
        """The operation's multipart/form-data schema when the request sends one, else None."""
        sent = str(request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        content = operation / "requestBody" / "content" / MULTIPART / "schema"
        if sent != MULTIPART or not content.exists():
            return None
        return self.resolve(content.read_value())

    def resolve(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        """A schema with its local ``$ref`` followed."""
        while "$ref" in schema:
            found: Any = self.document
            for step in str(schema["$ref"]).removeprefix("#/").split("/"):
                found = found[step]
            schema = found
        return dict(schema)

    def _alternatives(self, schema: Mapping[str, Any]) -> list[dict[str, Any]]:
        """A property's schema, or each schema of its anyOf / oneOf, resolved."""
        schema = self.resolve(schema)
        options = schema.get("anyOf") or schema.get("oneOf")
        return [self.resolve(option) for option in options] if options else [schema]

    def check_form(self, parts: list[Part], form: Mapping[str, Any]) -> None:
        """WrongForm unless every part is a field the schema names (or it allows others), a
        file exactly where the schema says binary, and every file says its Content-Type."""
        properties = form.get("properties") or {}
        for part in parts:
            if part.name not in properties:
                if form.get("additionalProperties") is False:
                    raise WrongForm(f"the form has a field {part.name!r} its schema does not name")
                continue
            binary = [option.get("format") == "binary" for option in self._alternatives(properties[part.name])]
            if part.filename is not None and not any(binary):
                raise WrongForm(f"the form's field {part.name!r} is sent as a file, and its schema is not binary")
            if part.filename is None and binary and all(binary):
                raise WrongForm(f"the form's file {part.name!r} is sent as a text field, without a file name")
            if part.filename is not None and not part.content_type:
                raise WrongForm(f"the form's file {part.name!r} has no Content-Type")

    @contextmanager
    def _reading_form(self, form: dict[str, Any] | None) -> Iterator[None]:
        self._form = form
        try:
            yield
        finally:
            self._form = None

    def _typed_form(self, body: bytes, **parameters: str) -> dict[str, Any]:
        """openapi-core's reader of a multipart body: each file as a FilePart, each text field
        as the type its schema says (when its text is one), for openapi-core to validate."""
        boundary = parameters.get("boundary", "")
        properties = (self._form or {}).get("properties") or {}
        fields: dict[str, Any] = {}
        for part in multipart_parts(body, f'{MULTIPART}; boundary="{boundary}"'):
            if part.filename is not None:
                fields[part.name] = FilePart(part.data)
            else:
                text = part.data.decode("utf-8")
                schema = properties.get(part.name)
                fields[part.name] = self._typed(text, schema) if schema is not None else text
        return fields

    def _typed(self, text: str, schema: Mapping[str, Any]) -> Any:
        """A form field's text as the first of its schema's types it can be read as."""
        for option in self._alternatives(schema):
            kind = option.get("type")
            if kind == "integer" and re.fullmatch(r"-?[0-9]+", text):
                return int(text)
            if kind == "number" and re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", text):
                return float(text)
            if kind == "boolean" and text in ("true", "false"):
                return text == "true"
        return text

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


def correct(document: dict[str, Any], pointer: str, replacement: Any) -> None:
    """Replace what a JSON pointer (RFC 6901) names; KeyError if the document has no such place,
    so a correction cannot outlive the error it corrects unnoticed."""
    steps = [step.replace("~1", "/").replace("~0", "~") for step in pointer.lstrip("/").split("/")]
    parent = document
    for step in steps[:-1]:
        parent = parent[step]
    if steps[-1] not in parent:
        raise KeyError(f"the document has nothing at {pointer}")
    parent[steps[-1]] = replacement


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
