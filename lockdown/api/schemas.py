"""What every API shape shares: the error body, strict booleans, bounded text, strict and paged
queries. Each view module's shapes sit beside it (``account_schemas`` beside ``accounts``, ...)."""

from __future__ import annotations

from typing import Any

from apiflask import Schema, fields, validators
from marshmallow import RAISE, ValidationError

from lockdown.pagination import CURSOR_PATTERN, MAX_LIMIT

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "snake_case error code"},
                "message": {"type": "string", "description": "what a person can act on"},
                "field": {"type": "string", "description": "the field at fault, if one is"},
                "errors": {
                    "type": "array",
                    "description": "every broken rule, when there are several",
                    "items": {"type": "object"},
                },
            },
        }
    },
}


class StrictBoolean(fields.Boolean):
    """A JSON boolean that refuses 0, 1 and "yes" (marshmallow accepts them, and since
    ``1 == True`` a ``truthy={True}`` set would too)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise ValidationError("must be true or false")
        return value


def strict_bool(**kwargs: Any) -> fields.Boolean:
    """A JSON boolean: exactly ``true`` or ``false``."""
    return StrictBoolean(**kwargs)


def query_bool(**kwargs: Any) -> fields.Boolean:
    """A query-string boolean: exactly ``true`` or ``false``."""
    return fields.Boolean(truthy={"true"}, falsy={"false"}, **kwargs)


def text(**kwargs: Any) -> fields.String:
    """Text of at most a few thousand characters."""
    return fields.String(validate=validators.Length(max=5000), **kwargs)


class StrictQuery(Schema):
    """Query parameters; an unknown one (a misspelt filter) is refused rather than ignored."""

    class Meta:
        unknown = RAISE


class PageQuery(StrictQuery):
    limit = fields.Integer(
        load_default=None,
        validate=validators.Range(min=1, max=MAX_LIMIT),
        metadata={"example": 100},
    )
    cursor = fields.String(
        load_default=None,
        validate=validators.Regexp(CURSOR_PATTERN),
        metadata={"description": "the 'next' value of the previous page"},
    )
