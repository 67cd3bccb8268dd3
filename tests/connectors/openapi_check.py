"""Check requests a connector sent against a platform's official OpenAPI document, with
openapi-core: the operation (method and templated path), parameters, and the body against the
operation's requestBody schema ($refs resolved).

Two allowances, both about the documents rather than the requests: the X document fails
openapi-spec-validator (a duplicated enum value), so the document itself is not validated; and
openapi-core cannot check OAuth 2.0 security schemes (it warns), so the tests assert the
Authorization header themselves.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from urllib.parse import urlsplit

import requests
import responses
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest

SPECS = Path(__file__).resolve().parent.parent / "specs"


class SpecCheck:
    """One OpenAPI document, loaded once; ``validate`` raises an OpenAPIError when a request
    does not fit it."""

    def __init__(self, filename: str, *, host: str | None = None) -> None:
        config = Config(spec_validator_cls=None)
        self.api = OpenAPI.from_file_path(str(SPECS / filename), config=config)
        self.host = host

    def validate(self, request: requests.PreparedRequest) -> None:
        if self.host:
            request = request.copy()
            request.url = urlsplit(request.url)._replace(netloc=self.host).geturl()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Unsupported scheme type", UserWarning)
            self.api.validate_request(RequestsOpenAPIRequest(request))

    def validate_all(self, calls: responses.CallList) -> int:
        """Validate every request in a ``responses`` call list; how many there were."""
        for call in calls:
            self.validate(call.request)
        return len(calls)
