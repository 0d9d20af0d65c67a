"""Who may do what: roles, the users file, and the checks the engine runs before a write.

Local single-user mode (no users file configured) acts as one administrator named
"local". A deployment sets KPI_USERS_FILE to a YAML file of users with argon2id password
hashes (written by ``python -m kpi user``, never by hand); every page then needs a login,
and each write checks the acting user's role where it runs (kpi.engine), not only in the
pages that hide its button. Where the platform's single sign-on is configured (an
``[auth]`` section in Streamlit's secrets, used through st.login), it logs people in
instead, and the users file, if any, gives their roles by e-mail address.

    viewer    read every page, download figures and tables
    uploader  also import, undo their own batches, download original files
    admin     everything: any batch, targets, plans, the sample year, users
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from kpi.store import StoreError

USERS_FILE_ENV = "KPI_USERS_FILE"
MIN_PASSWORD = 10
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
_hasher = PasswordHasher()  # argon2id with the library's current recommended costs


class Role(IntEnum):
    """Ordered: a role may do everything the roles below it may."""

    VIEWER = 1
    UPLOADER = 2
    ADMIN = 3

    @property
    def key(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls[str(text).strip().upper()]
        except KeyError:
            raise AuthError(
                f"角色「{text}」不存在；可用 viewer、uploader、admin。",
                f"There is no role '{text}'; use viewer, uploader or admin.",
            ) from None


ROLE_NAMES = {
    Role.VIEWER: ("檢視者", "Viewer"),
    Role.UPLOADER: ("上傳者", "Uploader"),
    Role.ADMIN: ("管理者", "Administrator"),
}


@dataclass(frozen=True)
class User:
    name: str
    role: Role

    def may(self, role: Role) -> bool:
        return self.role >= role


LOCAL = User("local", Role.ADMIN)


class AuthError(StoreError):
    """A refused login, user change or action; the message is for the user (zh-TW / en)."""


class PermissionDenied(AuthError):
    """The acting user's role does not allow the action."""


def require(user: User, role: Role, action_zh: str, action_en: str) -> None:
    """Refuse the action unless the user holds at least ``role``."""
    if not user.may(role):
        zh, en = ROLE_NAMES[role]
        raise PermissionDenied(
            f"「{user.name}」沒有權限{action_zh}（需要{zh}以上的角色）。",
            f"'{user.name}' may not {action_en} (it needs the {en.lower()} role or above).",
        )


OIDC_DEFAULT_ROLE_ENV = "KPI_OIDC_DEFAULT_ROLE"


def oidc_default_role() -> Role | None:
    """The role of someone the single sign-on knows but the users file does not list.

    KPI_OIDC_DEFAULT_ROLE: viewer (the default), uploader, admin, or none (no access).
    """
    value = os.environ.get(OIDC_DEFAULT_ROLE_ENV, "viewer").strip().lower()
    return None if value == "none" else Role.parse(value)


def users_file_path() -> Path | None:
    """The configured users file, or None in local single-user mode."""
    value = os.environ.get(USERS_FILE_ENV, "").strip()
    return Path(value) if value else None


@dataclass(frozen=True)
class Account:
    name: str
    role: Role
    password_hash: str


class UsersFile:
    """The users file: name → role and argon2id hash. Written atomically, readable only by its owner."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def accounts(self) -> dict[str, Account]:
        """The file's accounts; parsed again only when the file changes (a page run asks often)."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return {}
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        cached = _PARSED.get(self.path)
        if cached is not None and cached[0] == stamp:
            return dict(cached[1])
        accounts = self._parse()
        _PARSED[self.path] = (stamp, accounts)
        return dict(accounts)

    def _parse(self) -> dict[str, Account]:
        try:
            data = yaml.safe_load(self.path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as err:
            raise AuthError(
                f"使用者檔案 {self.path.name} 不是有效的 YAML：{err}",
                f"The users file {self.path.name} is not valid YAML: {err}",
            ) from err
        users = data.get("users") or {}
        if not isinstance(users, dict):
            raise AuthError(
                f"使用者檔案 {self.path.name} 應有 users: 名稱 → {{role, password}}。",
                f"The users file {self.path.name} should hold users: name → {{role, password}}.",
            )
        out = {}
        for name, entry in users.items():
            entry = entry or {}
            out[str(name)] = Account(
                str(name), Role.parse(entry.get("role", "")), str(entry.get("password", ""))
            )
        return out

    def _save(self, accounts: dict[str, Account]) -> None:
        body = {
            "users": {
                a.name: {"role": a.role.key, "password": a.password_hash}
                for a in sorted(accounts.values(), key=lambda a: a.name)
            }
        }
        header = (
            "# 施政績效儀表板 users: argon2id password hashes, never passwords.\n"
            "# Change with `python -m kpi user add|role|remove`, not by hand.\n"
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".users-", suffix=".yaml")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(header + yaml.safe_dump(body, allow_unicode=True, sort_keys=False))
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def add(self, name: str, role: Role, password: str | None) -> None:
        """Add a user; without a password (None) only the single sign-on can log them in."""
        _check_name(name)
        if password is not None:
            _check_password(password)
        accounts = self.accounts()
        if name in accounts:
            raise AuthError(f"使用者「{name}」已存在。", f"User '{name}' already exists.")
        accounts[name] = Account(name, role, _hasher.hash(password) if password else "")
        self._save(accounts)

    def set_role(self, name: str, role: Role) -> Role:
        accounts = self.accounts()
        old = self._get(accounts, name)
        accounts[name] = Account(name, role, old.password_hash)
        self._save(accounts)
        return old.role

    def set_password(self, name: str, password: str) -> None:
        _check_password(password)
        accounts = self.accounts()
        old = self._get(accounts, name)
        accounts[name] = Account(name, old.role, _hasher.hash(password))
        self._save(accounts)

    def remove(self, name: str) -> None:
        accounts = self.accounts()
        self._get(accounts, name)
        del accounts[name]
        self._save(accounts)

    def verify(self, name: str, password: str) -> User | None:
        """The user if the password is theirs; None otherwise (also for unknown names)."""
        account = self.accounts().get(str(name).strip())
        try:
            if account is None:
                # Spend the same time as for a real user: a login form must not tell
                # which names exist.
                _hasher.verify(_DUMMY_HASH, password)
                return None
            _hasher.verify(account.password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        return User(account.name, account.role)

    @staticmethod
    def _get(accounts: dict[str, Account], name: str) -> Account:
        if name not in accounts:
            raise AuthError(f"沒有使用者「{name}」。", f"There is no user '{name}'.")
        return accounts[name]


class LoginThrottle:
    """Slows password guessing: after ``attempts`` failed logins for one name within
    ``window`` seconds, that name is refused for ``lockout`` seconds without its password
    being checked. Kept in the server process (each replica counts its own)."""

    def __init__(
        self,
        attempts: int = 5,
        window: float = 15 * 60,
        lockout: float = 5 * 60,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.attempts, self.window, self.lockout, self._clock = attempts, window, lockout, clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait(self, name: str) -> float:
        """Seconds until ``name`` may try again; 0 when it may now."""
        with self._lock:
            failures = self._recent(name)
            if len(failures) < self.attempts:
                return 0.0
            return max(0.0, failures[-1] + self.lockout - self._clock())

    def failed(self, name: str) -> None:
        with self._lock:
            self._recent(name).append(self._clock())

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(name.casefold(), None)

    def _recent(self, name: str) -> deque[float]:
        failures = self._failures.setdefault(name.casefold(), deque(maxlen=self.attempts))
        now = self._clock()
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures


LOGIN_THROTTLE = LoginThrottle()

_DUMMY_HASH = _hasher.hash("not a password anyone has")
# Users file path → (mtime, size, inode) when parsed, and its accounts.
_PARSED: dict[Path, tuple[tuple[int, int, int], dict[str, Account]]] = {}


def _check_name(name: str) -> None:
    if not _NAME.match(name or ""):
        raise AuthError(
            f"使用者名稱「{name}」不可用：請用英數字與 . _ @ -，最多 100 字。",
            f"'{name}' cannot be a user name: use letters, digits and . _ @ - (at most 100).",
        )


def _check_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise AuthError(
            f"密碼至少需 {MIN_PASSWORD} 個字元。",
            f"A password needs at least {MIN_PASSWORD} characters.",
        )
