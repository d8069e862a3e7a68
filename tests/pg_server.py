"""A throw-away PostgreSQL server for tests: initdb in a temporary folder, unix socket only, removed on stop.

PostgreSQL refuses to run as root, so when the tests run as root the server runs as the ``postgres`` system
user (or ``nobody`` when there is none; ``$CONSULT_TEST_PG_USER`` picks another) and its folder is handed to
that user. The binaries are looked up on ``PATH``, then in ``/usr/lib/postgresql/*/bin`` (Debian, Ubuntu).
No TCP port is opened: clients connect through the socket in the server's folder.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Any


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries are missing or the server did not start."""


def find_pg_binary(name: str) -> str:
    """Path of the PostgreSQL program ``name`` (initdb, pg_ctl, postgres)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    if candidates:
        return candidates[0]
    raise PostgresUnavailable(f"{name} not found on PATH nor in /usr/lib/postgresql/*/bin: install the "
                              "PostgreSQL server (Debian: apt-get install postgresql)")


def _free_port() -> int:
    # Only names the socket file (.s.PGSQL.<port>); a free TCP port avoids surprising anyone reading it.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """Start with ``start()`` or ``with PostgresServer() as server:``; ``create_database()`` gives a URL."""

    superuser = "consult"

    def __init__(self) -> None:
        self.root: Path | None = None
        self.port = _free_port()
        self._run_as: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            name = os.environ.get("CONSULT_TEST_PG_USER")
            for candidate in ([name] if name else ["postgres", "nobody"]):
                try:
                    self._run_as = pwd.getpwnam(candidate)
                    break
                except KeyError:
                    continue
            if self._run_as is None:
                raise PostgresUnavailable("running as root and no 'postgres' or 'nobody' user to run PostgreSQL as")

    def _run(self, args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        if self._run_as is not None:
            kwargs.update(user=self._run_as.pw_uid, group=self._run_as.pw_gid, extra_groups=[])
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
        return subprocess.run(args, capture_output=True, text=True, env=env, cwd=str(self.root), **kwargs)

    @property
    def data_dir(self) -> Path:
        assert self.root is not None
        return self.root / "data"

    def start(self) -> PostgresServer:
        initdb, pg_ctl = find_pg_binary("initdb"), find_pg_binary("pg_ctl")
        self.root = Path(tempfile.mkdtemp(prefix="consult-pg-", dir="/tmp"))
        if self._run_as is not None:
            os.chown(self.root, self._run_as.pw_uid, self._run_as.pw_gid)
        out = self._run([initdb, "-D", str(self.data_dir), "-U", self.superuser, "-A", "trust", "-E", "UTF8",
                         "--locale=C.UTF-8", "--no-sync"])
        if out.returncode != 0:
            self._cleanup()
            raise PostgresUnavailable(f"initdb failed ({out.returncode}): {out.stderr.strip() or out.stdout.strip()}")
        # Durability settings are off: this server holds throw-away test data only.
        options = (f"-k {self.root} -p {self.port} -c listen_addresses='' -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60")
        out = self._run([pg_ctl, "-D", str(self.data_dir), "-o", options, "-l", str(self.root / "server.log"),
                         "-w", "-t", "60", "start"])
        if out.returncode != 0:
            log_text = (self.root / "server.log").read_text(errors="replace") if (self.root / "server.log").exists() \
                else ""
            self._cleanup()
            raise PostgresUnavailable(f"pg_ctl start failed ({out.returncode}): {out.stderr.strip()}\n{log_text}")
        return self

    def url(self, dbname: str = "postgres") -> str:
        """libpq URL of ``dbname`` on this server (unix socket)."""
        assert self.root is not None, "server not started"
        return f"postgresql://{self.superuser}@/{dbname}?host={self.root}&port={self.port}"

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database (a fresh random name by default) and return its URL."""
        import psycopg

        name = name or f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if self.root is None:
            return
        if (self.data_dir / "postmaster.pid").exists():
            self._run([find_pg_binary("pg_ctl"), "-D", str(self.data_dir), "-m", "immediate", "-w", "stop"])
        self._cleanup()

    def _cleanup(self) -> None:
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
