"""Users and groups: the host's (through NSS), or a fake root's /etc/passwd and /etc/group."""

from __future__ import annotations

import grp
import pwd
from dataclasses import dataclass
from pathlib import Path

DB_LIMIT = 1 << 20  # a passwd or group file larger than 1 MiB is not read


@dataclass(frozen=True)
class Account:
    """A user: name, uid and primary gid."""

    name: str
    uid: int
    gid: int


def read_db(path: Path) -> list[list[str]]:
    """The colon-separated rows of a passwd-style file ([] when it cannot be read)."""
    try:
        with path.open("rb") as handle:
            data = handle.read(DB_LIMIT)
    except OSError:
        return []
    lines = data.decode("utf-8", "replace").splitlines()
    return [line.split(":") for line in lines if line and not line.startswith("#")]


class Accounts:
    """Looks users and groups up.

    Args:
        etc: the fake root's /etc holding passwd and group; None: this host's NSS.
    """

    def __init__(self, etc: Path | None = None) -> None:
        self.etc = etc

    def _rows(self, name: str) -> list[list[str]] | None:
        """The rows of etc/<name>, or None when the host's NSS is to be asked."""
        if self.etc is None or not (self.etc / name).is_file():
            return None
        return read_db(self.etc / name)

    def user(self, name: str) -> Account | None:
        """A user account."""
        rows = self._rows("passwd")
        if rows is None:
            try:
                entry = pwd.getpwnam(name)
            except KeyError:
                return None
            return Account(name, entry.pw_uid, entry.pw_gid)
        for row in rows:
            if len(row) >= 4 and row[0] == name and row[2].isdigit() and row[3].isdigit():
                return Account(name, int(row[2]), int(row[3]))
        return None

    def gid(self, name: str) -> int | None:
        """A group's gid."""
        rows = self._rows("group")
        if rows is None:
            try:
                return grp.getgrnam(name).gr_gid
            except KeyError:
                return None
        return next((int(r[2]) for r in rows if len(r) >= 3 and r[0] == name
                     and r[2].isdigit()), None)

    def group_name(self, gid: int) -> str | None:
        """A gid's name."""
        rows = self._rows("group")
        if rows is None:
            try:
                return grp.getgrgid(gid).gr_name
            except KeyError:
                return None
        return next((r[0] for r in rows if len(r) >= 3 and r[2] == str(gid)), None)

    def ids(self, user: str, group: str) -> tuple[int, int]:
        """(uid, gid) of user and group.

        Raises:
            LookupError: the user or the group does not exist.
        """
        account, gid = self.user(user), self.gid(group)
        if account is None or gid is None:
            raise LookupError(f"no user {user} or group {group} on this system")
        return account.uid, gid
