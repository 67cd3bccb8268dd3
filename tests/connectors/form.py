"""Read back what a connector sent as ``multipart/form-data`` (an upload), so a test can assert
the bytes and fields that reached the fake platform."""

from __future__ import annotations

from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP

import requests


@dataclass(frozen=True)
class Part:
    """One form field: its value, and the file name it was sent with (None for a plain field)."""

    data: bytes
    filename: str | None
    content_type: str | None

    @property
    def text(self) -> str:
        return self.data.decode()


def form_parts(request: requests.PreparedRequest) -> dict[str, Part]:
    """The fields of a ``multipart/form-data`` request by name; AssertionError if it is not one."""
    content_type = str(request.headers.get("Content-Type", ""))
    assert content_type.startswith("multipart/form-data"), f"not a multipart upload: {content_type!r}"
    body = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    parts: dict[str, Part] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        assert isinstance(name, str)
        assert isinstance(payload, bytes)
        parts[name] = Part(payload, part.get_filename(), part.get("Content-Type"))
    return parts
