"""A realistic demo register: about 250 accounts across faculties, the central @livuni accounts,
managers, editors, ERMC and a press team. Deterministic, so screenshots and docs stay stable."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from lockdown.crypto import Vault
from lockdown.people.users import User, active_users_by_email, add_user, issue_token
from lockdown.register.accounts import check_account, check_naming, insert_accounts, raise_first
from lockdown.store.context import Context

DEMO_DOMAIN = "demo.livuni.ac.uk"
# The people whose tokens a demo prints: enough to try every role.
SHOWCASE = (
    ("Priya Shah", "press.officer", ("press",)),
    ("Tom Okafor", "press.deputy", ("press",)),
    ("Ruth Evans", "ermc.admin", ("ermc", "manager")),
    ("Dan Whitfield", "manager.chemistry", ("manager",)),
    ("Amira Haddad", "manager.physics", ("manager",)),
)
FACULTIES = {
    "Faculty of Science and Engineering": [
        "Chemistry", "Physics", "Mathematical Sciences", "Computer Science", "Engineering",
        "Environmental Sciences", "Earth, Ocean and Ecological Sciences", "Electrical Engineering",
        "Materials Innovation Factory", "Physical Sciences", "Architecture",
    ],
    "Faculty of Health and Life Sciences": [
        "Medicine", "Dentistry", "Veterinary Science", "Nursing", "Psychology",
        "Life Sciences", "Public Health", "Infection and Global Health", "Pharmacology",
        "Health Sciences", "Clinical Directorate",
    ],
    "Faculty of Humanities and Social Sciences": [
        "Management School", "Law and Social Justice", "Histories, Languages and Cultures",
        "English", "Philosophy", "Music", "Politics", "Sociology", "Archaeology",
        "Communication and Media", "Education",
    ],
    "Professional Services": [
        "Library", "Careers and Employability", "Student Services", "Accommodation",
        "Sport Liverpool", "Alumni Relations", "International Office", "Research Office",
        "Victoria Gallery and Museum", "Open Days", "Sustainability",
    ],
}  # fmt: skip
# The units whose accounts are tagged for drills (the exercise playbook holds accounts tagged
# "drill"), so that an exercise in the demo holds a handful of accounts, as a real drill would.
DRILL_UNITS = ("Open Days",)
DRILL_TAG = "drill"
PLATFORM_MIX = ("x", "facebook", "instagram", "linkedin", "youtube", "mastodon", "bluesky")
CENTRAL_PLATFORMS = ("x", "facebook", "instagram", "linkedin", "youtube", "mastodon", "bluesky")
HOURS = ("Mon-Fri 09:00-17:00", "Mon-Fri 08:30-17:30", "Mon-Fri 09:00-17:00; Sat 10:00-14:00")
PURPOSES = (
    "News, events and research from {unit}",
    "Prospective and current students of {unit}",
    "Alumni, partners and public engagement for {unit}",
)


@dataclass(frozen=True)
class DemoLogin:
    """A demo user's name, email, roles and fresh API token."""

    name: str
    email: str
    roles: tuple[str, ...]
    token: str


def _slug(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())[:18]


def seed_demo(ctx: Context, actor: str = "demo") -> list[DemoLogin]:
    """Seed the demo register once; on later runs, issue fresh tokens to the showcase users."""
    if ctx.db.conn.execute("SELECT 1 FROM accounts LIMIT 1").fetchone():
        return [
            DemoLogin(
                name,
                f"{local}@{DEMO_DOMAIN}",
                roles,
                issue_token(ctx, actor, f"{local}@{DEMO_DOMAIN}"),
            )
            for name, local, roles in SHOWCASE
        ]
    with ctx.change():  # all of the demo or none of it
        return _seed(ctx, actor)


def _seed(ctx: Context, actor: str) -> list[DemoLogin]:
    logins = []
    for name, local, roles in SHOWCASE:
        user, token = add_user(ctx, actor, name=name, email=f"{local}@{DEMO_DOMAIN}", roles=roles)
        logins.append(DemoLogin(user.name, user.email, roles, token))
    add_user(ctx, actor, name="Sam Carter", email=f"ermc.deputy@{DEMO_DOMAIN}", roles=["ermc"])
    add_user(ctx, actor, name="Lena Fischer", email=f"press.night@{DEMO_DOMAIN}", roles=["press"])
    rng = random.Random(2026)  # noqa: S311 - a repeatable demo, not a secret
    managers = [f"manager.{_slug(unit)}@{DEMO_DOMAIN}" for units in FACULTIES.values() for unit in units]
    for email in managers:
        if email not in active_users_by_email(ctx.db):
            local = email.split("@")[0].split(".", 1)[1]
            add_user(ctx, actor, name=f"{local.title()} Manager", email=email, roles=["manager"])
    for number in range(1, 31):
        add_user(
            ctx,
            actor,
            name=f"Editor {number}",
            email=f"editor{number}@{DEMO_DOMAIN}",
            roles=["manager"],
        )
    users = active_users_by_email(ctx.db)
    raw = _central_accounts() + _unit_accounts(rng)
    rows = []
    for data in raw:
        clean, errors = check_account(data, users)
        check_naming(clean, errors)
        raise_first(errors)
        rows.append(clean)
    seeder = _seeder(users)
    with ctx.change() as change:
        insert_accounts(change, seeder, rows)
        change.audit(actor, "demo.seed", "register", accounts=len(rows))
    _seed_posts(ctx, rng)
    return logins


POST_IDEAS = (
    "Open day this Saturday: book your campus tour now.",
    "New research published today from our {unit} team.",
    "Congratulations to this year's graduates of {unit}!",
    "Join us for a public lecture next week: free and open to all.",
    "Applications for our summer school close on Friday.",
    "Meet the students behind this year's award-winning project.",
)


def _seed_posts(ctx: Context, rng: random.Random) -> None:
    """A week of posts on about forty accounts: most approved, some awaiting review."""
    from lockdown.posting.posts import approve_post, create_post

    users = active_users_by_email(ctx.db)
    ermc = users[f"ermc.admin@{DEMO_DOMAIN}"]
    accounts = ctx.db.conn.execute(
        "SELECT a.id, a.unit, u.email FROM accounts a JOIN users u ON u.id = a.manager_id "
        "WHERE a.central = 0 ORDER BY a.id"
    ).fetchall()
    now = ctx.now()
    for account_id, unit, manager in rng.sample(accounts, k=min(40, len(accounts))):
        for _ in range(rng.choice((1, 2, 3))):
            when = now + timedelta(hours=rng.randint(2, 24 * 7), minutes=rng.choice((0, 15, 30, 45)))
            body = rng.choice(POST_IDEAS).format(unit=unit)
            post = create_post(
                ctx, users[manager], {"account_id": account_id, "body": body, "scheduled_at": when.isoformat()}
            )
            if rng.random() < 0.8:
                approve_post(ctx, ermc, post["id"])


def _seeder(users: dict[str, User]) -> User:
    return users[f"ermc.admin@{DEMO_DOMAIN}"]


def _central_accounts() -> list[dict[str, object]]:
    return [
        {
            "handle": "livuni" if platform in ("facebook", "youtube", "linkedin") else "@livuni",
            "platform": platform,
            "unit": "External Relations, Marketing and Communications",
            "purpose": "The University of Liverpool's official account; emergency information",
            "monitored_hours": "24/7",
            "manager": f"ermc.admin@{DEMO_DOMAIN}",
            "editors": [f"press.officer@{DEMO_DOMAIN}", f"press.deputy@{DEMO_DOMAIN}"],
            "central": True,
        }
        for platform in CENTRAL_PLATFORMS
    ]


def _unit_accounts(rng: random.Random) -> list[dict[str, object]]:
    accounts: list[dict[str, object]] = []
    editors = [f"editor{number}@{DEMO_DOMAIN}" for number in range(1, 31)]
    for units in FACULTIES.values():
        for unit in units:
            slug = _slug(unit)
            manager = f"manager.{slug}@{DEMO_DOMAIN}"
            for platform in rng.sample(PLATFORM_MIX, k=rng.choice((5, 6))):
                legacy = rng.random() < 0.04
                accounts.append(
                    {
                        "handle": f"@{'uol' if legacy else 'livuni'}_{slug}",
                        "platform": platform,
                        "unit": unit,
                        "purpose": rng.choice(PURPOSES).format(unit=unit),
                        "monitored_hours": rng.choice(HOURS),
                        "manager": manager,
                        "editors": rng.sample(editors, k=rng.choice((0, 1, 2))),
                        "naming_exception": "registered before the 2019 naming rule" if legacy else None,
                        "tags": [DRILL_TAG] if unit in DRILL_UNITS else None,
                    }
                )
    return accounts


DEMO_PASSWORD = "lockdown-demo-password"  # noqa: S105 - the demo's published password


def demo_console_access(ctx: Context, vault: Vault, actor: str = "demo") -> dict[str, str | None]:
    """Give the showcase users the demo console password, and the press team and ERMC a fresh
    authenticator seed; return each email with its otpauth:// URI (None where none is needed)."""
    from lockdown.people.signin import enroll_totp, set_password

    access: dict[str, str | None] = {}
    for _name, local, roles in SHOWCASE:
        email = f"{local}@{DEMO_DOMAIN}"
        set_password(ctx, actor, email, DEMO_PASSWORD)
        access[email] = enroll_totp(ctx, vault, actor, email) if {"press", "ermc"} & set(roles) else None
    return access
