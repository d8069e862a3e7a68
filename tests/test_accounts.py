"""Accounts of the review page and the API: hashed passwords in a private file, roles, rate-limited logins."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from consult.accounts import Accounts, add_account, hash_password, verify_password
from consult.errors import ConsultError

REPO = Path(__file__).resolve().parents[1]


def test_password_hash_is_salted_and_verifies():
    a, b = hash_password("correct horse battery"), hash_password("correct horse battery")
    assert a != b and a.startswith("scrypt$") and "correct" not in a
    assert verify_password("correct horse battery", a) and not verify_password("wrong horse battery", a)
    assert not verify_password("x", "md5$abc") and not verify_password("x", "garbage")


def test_accounts_file_is_private_holds_no_password_and_is_checked(tmp_path):
    path = tmp_path / "accounts"
    add_account(path, "dr.martin", "doctor", "un mot de passe long")
    add_account(path, "ph.durand", "pharmacist", "un autre mot de passe")
    assert (path.stat().st_mode & 0o777) == 0o600 and "mot de passe" not in path.read_text()
    accounts = Accounts.load(path)
    assert accounts.check("dr.martin", "un mot de passe long").role == "doctor"
    assert accounts.check("dr.martin", "un autre mot de passe") is None
    assert accounts.may("ph.durand", "sign") and not accounts.may("ph.durand", "purge")
    assert not accounts.may("ph.durand", "transcribe") and accounts.may("dr.martin", "transcribe")
    assert not accounts.may("nobody", "open") and not accounts.may(None, "open")
    with pytest.raises(ConsultError, match="10 characters"):
        add_account(path, "x", "doctor", "short")
    with pytest.raises(ConsultError, match="role"):
        add_account(path, "x", "nurse", "un mot de passe long")
    path.chmod(0o644)
    with pytest.raises(ConsultError, match="chmod 600"):
        Accounts.load(path)


def test_logins_are_rate_limited(tmp_path):
    path = tmp_path / "accounts"
    add_account(path, "dr.martin", "doctor", "un mot de passe long")
    accounts = Accounts.load(path)
    accounts.lockout_s = 0.3
    for _ in range(accounts.max_failures):
        assert not accounts.login("dr.martin", "guess")
    assert not accounts.login("dr.martin", "un mot de passe long")  # locked out, even with the right one
    import time

    time.sleep(0.35)
    assert accounts.login("dr.martin", "un mot de passe long")


def test_accounts_command_reads_the_password_from_stdin(tmp_path):
    path = tmp_path / "cfg" / "accounts"
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    r = subprocess.run([sys.executable, "-m", "consult", "accounts", "add", "admin.it", "--role", "admin", "--file",
                        str(path)], input="un mot de passe long\n", capture_output=True, text=True, env=env,
                       cwd=REPO, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "mot de passe" not in r.stdout + r.stderr
    listed = subprocess.run([sys.executable, "-m", "consult", "accounts", "list", "--file", str(path)],
                            capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert listed.stdout.split() == ["admin.it", "admin"]
    assert Accounts.load(path).check("admin.it", "un mot de passe long") is not None
