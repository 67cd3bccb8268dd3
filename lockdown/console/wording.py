"""How the console words counts and platforms, so that every page says "1 post" and "3 posts",
"Instagram" and not "instagram", the same way."""

from __future__ import annotations

from lockdown.console.blueprint import bp
from lockdown.register.accounts import PLATFORM_NAMES


@bp.app_template_filter("plural")
def plural(count: int, one: str, many: str | None = None, *, none: str | None = None, number: bool = True) -> str:
    """``count`` with the word that agrees with it: "1 post", "3 posts", or ``none`` for zero when
    given ("No posts"); ``number=False`` gives the word alone, for a verb ("waits", "wait")."""
    if count == 0 and none is not None:
        return none
    word = one if count == 1 else (many if many is not None else one + "s")
    return f"{count} {word}" if number else word


@bp.app_template_filter("platform_name")
def platform_name(platform: str) -> str:
    """A platform as people write it: "Instagram", "LinkedIn", "X"."""
    return PLATFORM_NAMES.get(platform, platform)
