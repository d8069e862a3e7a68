"""Accounts of the review page and of ``consult api``: one file, hashed passwords, roles.

The file (``consult accounts add``; default ``$CONSULT_ACCOUNTS``) has one ``name:role:hash`` line per account;
``hash`` is ``scrypt$N$r$p$salt$key`` (base64), so the file holds no password. Roles and what they may do:

=============  ======================================================================
role           may
=============  ======================================================================
doctor         open reports, transcribe, edit, sign
pharmacist     open reports, edit, sign
admin          open reports, transcribe, purge (delete a patient's data)
=============  ======================================================================

:meth:`Accounts.check` verifies a login and slows down guessing: after ``max_failures`` wrong passwords for a
name, that name is refused for ``lockout_s`` seconds, even with the right password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from consult.errors import ConsultError
from consult.security import secret_file_lines

__all__ = ["ACCOUNTS_ENV", "INTEGRATOR", "PERMISSIONS", "ROLES", "Account", "Accounts", "add_account",
           "hash_password", "role_may", "verify_password"]

ACCOUNTS_ENV = "CONSULT_ACCOUNTS"
ROLES = ("doctor", "pharmacist", "admin")
PERMISSIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"doctor", "pharmacist", "admin"}),
    "transcribe": frozenset({"doctor", "admin"}),
    "edit": frozenset({"doctor", "pharmacist"}),
    "sign": frozenset({"doctor", "pharmacist"}),
    "purge": frozenset({"admin"}),
}
INTEGRATOR = "integrator"
"""The role of an API token's holder: a system, not a person; every API action."""
_N, _R, _P = 2**14, 8, 1


def role_may(role: str, action: str) -> bool:
    """Whether ``role`` may do ``action`` (:data:`PERMISSIONS`; an API token's integrator may do everything)."""
    return role == INTEGRATOR or role in PERMISSIONS.get(action, frozenset())


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$key`` for ``password`` (a fresh random salt)."""
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(base64.b64decode(key)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(key))


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    password_hash: str

    def may(self, action: str) -> bool:
        return role_may(self.role, action)


def _read(path: Path) -> dict[str, Account]:
    accounts: dict[str, Account] = {}
    for n, line in secret_file_lines(path, "accounts", missing_ok=True):
        parts = line.split(":", 2)
        if len(parts) != 3 or parts[1] not in ROLES or not parts[2].startswith("scrypt$"):
            raise ConsultError(f"{path}, line {n}: expected name:role:scrypt$... with a role among "
                               f"{', '.join(ROLES)} (write it with consult accounts add)")
        accounts[parts[0]] = Account(parts[0], parts[1], parts[2])
    return accounts


def add_account(path: Path, name: str, role: str, password: str) -> Account:
    """Add or replace ``name`` in the accounts file (created 0600)."""
    from consult.outputs import atomic_write

    if not name or ":" in name or name != name.strip():
        raise ConsultError(f"account name {name!r}: no colon, no surrounding spaces")
    if role not in ROLES:
        raise ConsultError(f"role {role!r}: one of {', '.join(ROLES)}")
    if len(password) < 10:
        raise ConsultError("a password needs at least 10 characters")
    accounts = _read(path)
    accounts[name] = Account(name, role, hash_password(password))
    text = "# consult accounts: name:role:scrypt hash (consult accounts add)\n" + "".join(
        f"{a.name}:{a.role}:{a.password_hash}\n" for a in accounts.values())
    atomic_write(Path(path), text, mode=0o600)
    return accounts[name]


class Accounts:
    """The accounts of a file, for logins: :meth:`check` (rate-limited) and :meth:`may`."""

    def __init__(self, accounts: dict[str, Account], *, max_failures: int = 5, lockout_s: float = 60.0) -> None:
        self.accounts = accounts
        self.max_failures = max_failures
        self.lockout_s = lockout_s
        self._failures: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path | str) -> Accounts:
        accounts = _read(Path(path))
        if not accounts:
            raise ConsultError(f"{path}: no account (add one: consult accounts add NAME --role doctor --file "
                               f"{path})")
        if os.stat(path).st_mode & 0o077:
            raise ConsultError(f"{path}: the accounts file is readable by other users: chmod 600 it")
        return cls(accounts)

    def check(self, name: str, password: str) -> Account | None:
        """The account when ``password`` is right and ``name`` is not locked out; None otherwise."""
        now = time.monotonic()
        with self._lock:
            failures, since = self._failures.get(name, (0, now))
            if failures >= self.max_failures and now - since < self.lockout_s:
                return None
        account = self.accounts.get(name)
        ok = account is not None and verify_password(password, account.password_hash)
        with self._lock:
            if ok:
                self._failures.pop(name, None)
            else:
                failures, since = self._failures.get(name, (0, now))
                if failures >= self.max_failures:  # the lockout has passed: count again
                    failures = 0
                self._failures[name] = (failures + 1, now)
        return account if ok else None

    def login(self, name: str, password: str) -> bool:
        """Gradio's ``auth`` callable."""
        return self.check(name, password) is not None

    def may(self, name: str | None, action: str) -> bool:
        account = self.accounts.get(name or "")
        return account is not None and account.may(action)
