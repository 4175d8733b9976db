"""The host as the plan builders see it, and the two changes every builder makes: a file
written (or not, when it is already so) and a directory made."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from .. import daemonconf
from ..changes import MakeDir, WriteFile
from ..facts import Facts, NutLayout
from ..prefill import Existing
from ..system import System


@dataclass
class Context:
    """The host as the builders see it."""

    system: System
    facts: Facts
    existing: Existing

    @property
    def nut(self) -> NutLayout:
        """NUT's layout."""
        return self.facts.nut

    @property
    def daemon(self) -> tuple[str, str]:
        """The daemon's user and group (User=nut in the unit)."""
        return self.nut.user, self.nut.group

    @property
    def config_owner(self) -> tuple[tuple[str, str], int]:
        """Owner and mode of the config: readable by the daemon's user only.

        root:nut 0640 where nut is a private group (Debian); where the daemon's group is
        shared (Fedora's dialout) the file is the daemon user's own, 0600.
        """
        user, group = self.daemon
        if group == user:
            return ("root", group), 0o640
        return (user, group), 0o600

    @property
    def systemctl(self) -> bool:
        """systemd is here (units can be enabled)."""
        return self.facts.systemd.present

    @property
    def live(self) -> bool:
        """systemd runs as PID 1 (units can be started and reloaded)."""
        return self.facts.systemd.present and self.facts.systemd.running


def under(path: PurePosixPath, directory: PurePosixPath) -> bool:
    """`path` is `directory` or inside it."""
    return path == directory or directory in path.parents


def _meta_ok(ctx: Context, meta: tuple[int, int, int] | None, mode: int | None,
             owner: tuple[str, str] | None) -> bool:
    """A file or directory (its mode, uid, gid) already has this mode and (as root) owner."""
    if mode is None:
        return True
    if meta is None or meta[0] != mode:
        return False
    if owner is None or not ctx.system.is_root:
        return True
    account, gid = ctx.system.accounts.user(owner[0]), ctx.system.accounts.gid(owner[1])
    return account is not None and meta[1:] == (account.uid, gid)


def file_change(ctx: Context, path: PurePosixPath, text: str, *, mode: int | None,
                owner: tuple[str, str] | None, purpose: str, label: str = "",
                secret: bool = False, masked: bool = False) -> WriteFile | None:
    """A WriteFile, or None when the file is already exactly so.

    Args:
        secret: the whole content is secret (a token): previews show a placeholder.
        masked: the content is a config file: previews mask its secret keys.
    """
    state = ctx.system.read_file(path)
    old = None if state is None else state.data.decode("utf-8", "surrogateescape")
    meta = None if state is None else (state.meta.mode, state.meta.uid, state.meta.gid)
    if old == text and _meta_ok(ctx, meta, mode, owner):
        return None
    shown = old_shown = None
    if secret:
        shown, old_shown = "<hidden: the new token>\n", "<hidden: the old token>\n"
    elif masked:
        shown = daemonconf.mask(text, old)
        old_shown = daemonconf.mask(old) if old is not None else None
    if mode is None and old is None:
        mode = 0o640
    return WriteFile(path, text, old, mode=mode, owner=owner, shown=shown, old_shown=old_shown,
                     label=label, purpose=purpose, system=ctx.system)


def dir_change(ctx: Context, path: PurePosixPath, mode: int, owner: tuple[str, str],
               purpose: str, label: str = "") -> MakeDir | None:
    """A MakeDir, or None when the directory is already so."""
    if _meta_ok(ctx, ctx.system.dir_meta(path), mode, owner):
        return None
    return MakeDir(path, mode, owner, label=label, purpose=purpose, system=ctx.system)
