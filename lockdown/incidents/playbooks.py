"""Incident playbooks: TOML files in ``playbooks/`` naming an incident's scope, resume policy,
message templates and what managers are told. Validated at start, errors naming file and field."""

from __future__ import annotations

import string
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SCOPES = ("all", "tagged", "named")
NAMED = ("none", "optional", "required")
RESUME_POLICIES = ("review", "skip", "resume")
TEMPLATES = ("holding_statement", "update", "all_clear")
# CAP 1.2's allowed values (OASIS CAP 1.2, 3.2.2) for the [cap] table's fields.
CAP_CATEGORIES = ("Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport", "Infra",
                  "CBRNE", "Other")  # fmt: skip
CAP_URGENCIES = ("Immediate", "Expected", "Future", "Past", "Unknown")
CAP_SEVERITIES = ("Extreme", "Severe", "Moderate", "Minor", "Unknown")
CAP_CERTAINTIES = ("Observed", "Likely", "Possible", "Unlikely", "Unknown")
NOTICES = ("declared_subject", "declared_body", "resolved_subject", "resolved_body")
# What each kind of text may say: public messages never carry the internal reason.
MESSAGE_FIELDS = frozenset({"title", "time", "central_handle", "account", "declared_at"})
NOTICE_FIELDS = frozenset(
    {"title", "name", "accounts", "account", "declared_at", "resolved_at", "playbook",
     "reason", "ack_hint", "resume_policy", "resume_hint", "incident_id"}
)  # fmt: skip


class PlaybookError(ValueError):
    """A playbook file is wrong; the message names the file and the field."""


@dataclass(frozen=True)
class CapInfo:
    """How a playbook's approved messages read as CAP 1.2 alerts (its ``[cap]`` table)."""

    category: str = "Safety"
    event: str = ""
    urgency: str = "Unknown"
    severity: str = "Unknown"
    certainty: str = "Unknown"


@dataclass(frozen=True)
class Playbook:
    """One playbook, as the incident code uses it."""

    name: str
    title: str
    description: str
    exercise: bool
    scope: str
    tag: str | None
    hold_central: bool
    named_account: str
    resume_policy: str
    require_rotation: bool
    templates: dict[str, str]
    notify: dict[str, str]
    cap: CapInfo = field(default_factory=CapInfo)
    # A CAP alert mapped to this playbook declares at once, without waiting for a press officer.
    declare_from_cap: bool = False

    def public(self) -> dict[str, Any]:
        """The playbook as the API shows it."""
        return asdict(self)


def _get(data: dict[str, Any], file: str, path: str, kind: type, default: Any = ...) -> Any:
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            if default is not ...:
                return default
            raise PlaybookError(f"{file}: {path} is missing")
        node = node[part]
    if not isinstance(node, kind):
        raise PlaybookError(f"{file}: {path} must be {kind.__name__}, got {type(node).__name__}")
    return node


def _choice(value: str, allowed: tuple[str, ...], file: str, path: str) -> str:
    if value not in allowed:
        raise PlaybookError(f"{file}: {path} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _placeholders(text: str, allowed: frozenset[str], file: str, path: str) -> str:
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        raise PlaybookError(f"{file}: {path} is not a valid template: {exc}") from None
    unknown = sorted(names - allowed)
    if unknown:
        raise PlaybookError(f"{file}: {path} uses {{{unknown[0]}}}; placeholders: {', '.join(sorted(allowed))}")
    return text.strip()


def parse_playbook(path: Path) -> Playbook:
    """Read and check one playbook file."""
    file = path.name
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PlaybookError(f"{file}: not valid TOML: {exc}") from None
    name = _get(data, file, "name", str)
    if name != path.stem:
        raise PlaybookError(f"{file}: name {name!r} must match the file name {path.stem!r}")
    scope = _choice(_get(data, file, "scope.accounts", str), SCOPES, file, "scope.accounts")
    tag = _get(data, file, "scope.tag", str, None)
    if scope == "tagged" and not tag:
        raise PlaybookError(f"{file}: scope.tag is required when scope.accounts is 'tagged'")
    named = _choice(_get(data, file, "scope.named_account", str, "none"), NAMED, file, "scope.named_account")
    if scope == "named" and named != "required":
        raise PlaybookError(f"{file}: scope.named_account must be 'required' when scope.accounts is 'named'")
    return Playbook(
        name=name,
        title=_get(data, file, "title", str),
        description=_get(data, file, "description", str, ""),
        exercise=_get(data, file, "exercise", bool, False),
        scope=scope,
        tag=tag,
        hold_central=_get(data, file, "scope.hold_central", bool, True),
        named_account=named,
        resume_policy=_choice(_get(data, file, "resume.policy", str, "review"), RESUME_POLICIES, file, "resume.policy"),
        require_rotation=_get(data, file, "credentials.require_rotation", bool, False),
        templates={
            key: _placeholders(_get(data, file, f"templates.{key}", str), MESSAGE_FIELDS, file, f"templates.{key}")
            for key in TEMPLATES
        },
        notify={
            key: _placeholders(_get(data, file, f"notify.{key}", str), NOTICE_FIELDS, file, f"notify.{key}")
            for key in NOTICES
        },
        cap=_cap(data, file, _get(data, file, "title", str)),
        declare_from_cap=_get(data, file, "declare_from_cap", bool, False),
    )


def _cap(data: dict[str, Any], file: str, title: str) -> CapInfo:
    """The ``[cap]`` table: every field optional, each checked against CAP 1.2's values."""
    _get(data, file, "cap", dict, {})
    event = _get(data, file, "cap.event", str, title).strip()
    if not event:
        raise PlaybookError(f"{file}: cap.event must not be empty")
    return CapInfo(
        category=_choice(_get(data, file, "cap.category", str, "Safety"), CAP_CATEGORIES, file, "cap.category"),
        event=event,
        urgency=_choice(_get(data, file, "cap.urgency", str, "Unknown"), CAP_URGENCIES, file, "cap.urgency"),
        severity=_choice(_get(data, file, "cap.severity", str, "Unknown"), CAP_SEVERITIES, file, "cap.severity"),
        certainty=_choice(_get(data, file, "cap.certainty", str, "Unknown"), CAP_CERTAINTIES, file, "cap.certainty"),
    )


def load_playbooks(folder: Path) -> dict[str, Playbook]:
    """Every playbook in the folder; PlaybookError on the first bad one or a missing default."""
    errors = check_playbooks(folder)
    if errors:
        raise PlaybookError("; ".join(errors))
    return {path.stem: parse_playbook(path) for path in sorted(folder.glob("*.toml"))}


def check_playbooks(folder: Path) -> list[str]:
    """Every problem in the folder's playbooks, each naming its file and field."""
    if not folder.is_dir():
        return [f"{folder}: the playbooks folder does not exist (LOCKDOWN_PLAYBOOKS)"]
    errors = []
    for path in sorted(folder.glob("*.toml")):
        try:
            playbook = parse_playbook(path)
        except PlaybookError as exc:
            errors.append(str(exc))
            continue
        if path.stem == "standby-promotion" and not (
            playbook.scope == "all" and playbook.hold_central and not playbook.exercise
        ):
            # A promoted standby fails closed only if this hold covers every account, for real.
            errors.append(
                f"{path.name}: scope.accounts must be 'all', scope.hold_central true and exercise false: "
                "a promoted standby holds every account until a press officer confirms"
            )
    if not (folder / "live-incident.toml").exists():
        errors.append(f"{folder}: live-incident.toml, the default playbook, is missing")
    return errors


def render(template: str, **values: Any) -> str:
    """Fill a checked template's placeholders."""
    return template.format(**values)
