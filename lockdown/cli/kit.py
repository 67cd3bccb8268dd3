"""``lockdown kit``: seal the break-glass kit (ERMC, on the server), open it with K shares on any
machine when Lockdown is down (no database, no settings, no network), list kits and whether each
is stale, and record a kit's use once the service is back."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from lockdown.cli.command_kit import acting_user, friendly_errors, open_context
from lockdown.errors import InvalidInput
from lockdown.vault.kit_file import (
    KIT_ID,
    KitFile,
    KitRefused,
    SealedKit,
    Share,
    choose_shares,
    missing,
    open_kit,
    parse_share,
    read_kit,
    share_lines,
)


@click.group("kit")
def kit_group() -> None:
    """The sealed break-glass kit: every current password, opened by K of N press officers' shares."""


def _write_new(path: Path, data: bytes) -> None:
    """Create ``path`` readable by its owner only; never replace a file already there."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _share_file_text(kit: SealedKit, share: Share, email: str) -> str:
    return (
        f"# Lockdown break-glass kit {kit.kit_id}: share {share.index} of {len(kit.shares)}, for {email}; "
        f"{kit.header['threshold']} shares open the kit.\n"
        "# Keep it secret. Use it only with `lockdown kit open` when Lockdown is down.\n"
        f"{share.text()}\n"
    )


@kit_group.command("seal")
@click.option("--shares", type=int, required=True, help="How many shares: one per holder.")
@click.option("--threshold", type=int, required=True, help="How many shares open the kit (at least 2).")
@click.option("--holder", "holders", multiple=True, required=True, help="A press officer to hold a share; repeat.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="The kit file.")
@click.option(
    "--share-dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Write each share to DIR/<email>.share (mode 0600) instead of printing it.",
)  # fmt: skip
@click.option("--as", "actor_email", envvar="LOCKDOWN_USER", required=True, help="The ERMC member sealing it.")
@friendly_errors
def kit_seal(
    shares: int, threshold: int, holders: tuple[str, ...], out: Path, share_dir: Path | None, actor_email: str
) -> None:
    """Seal every current password into KIT under a fresh key split into one share per holder."""
    from lockdown.crypto import Vault
    from lockdown.settings import Settings
    from lockdown.vault.kits import seal

    settings = Settings.from_env()
    vault = Vault(settings.vault_keys)
    if vault.current is None:
        raise click.ClickException("no vault key is configured: set LOCKDOWN_VAULT_KEY or LOCKDOWN_VAULT_KEY_FILE")
    if out.exists():
        raise click.ClickException(f"{out} exists: choose another --out (a kit is never overwritten)")
    targets = {email: share_dir / f"{email.strip().lower()}.share" for email in holders} if share_dir else {}
    for target in targets.values():
        if target.exists():
            raise click.ClickException(f"{target} exists: move it away or choose another --share-dir")
    written: list[Path] = []

    def deliver(kit: SealedKit) -> None:
        _write_new(out, kit.data)
        written.append(out)
        for share, holder in zip(kit.shares, kit.header["holders"], strict=True):
            if share_dir is not None:
                target = share_dir / f"{holder['email']}.share"
                _write_new(target, _share_file_text(kit, share, holder["email"]).encode())
                written.append(target)

    try:
        with open_context(settings) as ctx:
            actor = acting_user(ctx, actor_email)
            kit = seal(
                ctx, vault, actor, holders=holders, threshold=threshold, shares=shares,
                path=str(out.resolve()), deliver=deliver,
            )  # fmt: skip
    except BaseException as exc:
        # Not recorded, so not kept: a kit on disk is always one the database knows.
        for path in written:
            path.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise click.ClickException(f"cannot write {exc.filename}: {exc.strerror}; nothing was sealed") from exc
        raise
    click.echo(
        f"sealed kit {kit.kit_id} in {out}: {len(kit.header['credentials'])} passwords; "
        f"{threshold} of {shares} shares open it",
        err=True,
    )
    if share_dir is None:
        # Shown this once: give each holder their own line, then clear the terminal.
        for share, holder in zip(kit.shares, kit.header["holders"], strict=True):
            click.echo(f"{holder['email']}\t{share.text()}")
    else:
        for holder in kit.header["holders"]:
            click.echo(f"share for {holder['email']}: {share_dir / (holder['email'] + '.share')}", err=True)


def _read_shares(kit: KitFile, files: tuple[Path, ...]) -> list[Share]:
    """The shares from the files given, or else pasted on stdin (one per line; at a terminal,
    asked for one at a time without echo until the kit has enough)."""
    if files:
        return choose_shares(kit, [parse_share(line) for f in files for line in share_lines(f.read_text())])
    if not sys.stdin.isatty():
        return choose_shares(kit, [parse_share(line) for line in share_lines(sys.stdin.read())])
    shares: list[Share] = []
    while missing(kit, shares):
        text = click.prompt(
            f"share ({missing(kit, shares)} more needed; empty to stop)", default="", show_default=False,
            hide_input=True,
        )  # fmt: skip
        if not text.strip():
            break
        shares = choose_shares(kit, [*shares, parse_share(text)])
    return shares


@kit_group.command("open")
@click.argument("kit_path", metavar="KIT", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("share_files", metavar="[SHARE_FILE]...", nargs=-1, type=click.Path(exists=True, dir_okay=False,
                path_type=Path))  # fmt: skip
@friendly_errors
def kit_open(kit_path: Path, share_files: tuple[Path, ...]) -> None:
    """Open KIT with K shares (files, or pasted on stdin one per line) and print every password and
    a current TOTP code. Needs no database, no settings and no network."""
    from lockdown.vault.totp_seeds import current_code

    try:
        kit = read_kit(kit_path.read_bytes())
    except OSError as exc:
        raise click.ClickException(f"cannot read {exc.filename}: {exc.strerror}") from exc
    header = kit.header
    holders = ", ".join(f"{h['index']}: {h['email']}" for h in header["holders"])
    click.echo(
        f"kit {kit.kit_id}, sealed {header['sealed_at']} by {header['sealed_by']}; "
        f"{kit.threshold} of {len(header['holders'])} shares open it (holders {holders})",
        err=True,
    )
    try:
        shares = _read_shares(kit, share_files)
    except OSError as exc:
        raise click.ClickException(f"cannot read {exc.filename}: {exc.strerror}") from exc
    credentials = open_kit(kit, shares)
    now = datetime.now(UTC)
    for item in credentials:
        click.echo(f"{item['handle']} ({item['platform']}), account {item['account_id']}, version {item['version']}")
        click.echo(f"  username: {item['username']}")
        click.echo(f"  password: {item['password']}")
        if item.get("totp_secret"):
            click.echo(f"  TOTP code at {now:%H:%M:%S} UTC: {current_code(item['totp_secret'], now)}")
        if item.get("notes"):
            click.echo(f"  notes: {item['notes']}")
    click.echo(
        "Once Lockdown is back, run `lockdown kit used` so every password shown is changed.",
        err=True,
    )


@kit_group.command("list")
@friendly_errors
def kit_list() -> None:
    """Every kit sealed, newest first: id, sealed, shares, passwords, state, holders."""
    from lockdown.vault.kits import list_kits

    with open_context() as ctx:
        kits = list_kits(ctx)
    for kit in kits:
        state = (
            f"used {kit['used_at']} by {','.join(kit['opened_by'])}" if kit["used_at"]
            else f"stale since {kit['stale_at']}: {kit['stale_reason']}" if kit["stale"]
            else "current"
        )  # fmt: skip
        click.echo(
            f"{kit['id']}\t{kit['sealed_at']}\t{kit['threshold']} of {len(kit['holders'])}\t"
            f"{kit['accounts']} passwords\t{state}\t{','.join(kit['holders'])}"
        )


def _kit_id(value: str) -> str:
    """A kit's id, given either as the id or as the kit file (whose header names it)."""
    if KIT_ID.fullmatch(value):
        return value
    path = Path(value)
    if not path.is_file():
        raise InvalidInput(f"kit: {value} is neither a kit id (kit-…) nor a kit file", field="kit")
    try:
        return read_kit(path.read_bytes()).kit_id
    except KitRefused as exc:
        raise InvalidInput(f"kit: {value}: {exc.message}", field="kit") from None


@kit_group.command("used")
@click.argument("kit", metavar="KIT")
@click.option("--opened-by", "opened_by", multiple=True, required=True, help="Who opened it (a share holder); repeat.")
@click.option("--as", "actor_email", envvar="LOCKDOWN_USER", required=True, help="The ERMC member recording it.")
@friendly_errors
def kit_used(kit: str, opened_by: tuple[str, ...], actor_email: str) -> None:
    """Record that KIT (its file or its id) was opened: every password in it that is still current
    is marked for rotation, and who opened it is audited."""
    from lockdown.vault.kits import mark_used

    kit_id = _kit_id(kit)
    with open_context() as ctx:
        result = mark_used(ctx, acting_user(ctx, actor_email), kit_id, opened_by)
    replaced = result["replaced_since_sealed"]
    note = f"; {len(replaced)} already replaced since it was sealed" if replaced else ""
    click.echo(
        f"kit {kit_id} marked used (opened by {', '.join(result['opened_by'])}); "
        f"{len(result['rotation_required'])} passwords marked for rotation{note}"
    )


COMMANDS = (kit_group,)
