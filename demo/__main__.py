"""``python -m demo [--host 127.0.0.1] [--port 7860] [--lang fr|en] [--auth user:password] [--store URL]
[--audio-dir DIR]``.

Privacy: the page listens on the loopback interface by default, never creates a public share link, keeps no run
history in the browser, and runs with gradio's analytics off. A login is always asked: ``CONSULT_UI_AUTH``
(``user:password``, or ``--auth``, which ``ps`` shows), else on loopback a password made for the launch and shown
on the console; listening on any other interface needs the former. Requests whose Host is not a loopback name,
``--host`` or an ``--allowed-host`` are refused (DNS rebinding), and so are cross-origin POSTs. Uploads are
limited to 500 MB and land in a private temporary folder (``$GRADIO_TEMP_DIR``, 0700). Reports go to the report
store (``--store``, ``$CONSULT_STORE``, default ``consult.store.default_store_url()``), recordings processed on the
page to ``--audio-dir`` (default: an ``audio`` folder next to a SQLite store), re-encoded as FLAC.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before anything imports gradio
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is downloaded by the page (models are local)

from consult.security import (  # noqa: E402 - after the environment
    HostOriginGuard,
    SessionExpiry,
    allowed_hosts,
    is_loopback,
)

logger = logging.getLogger(__name__)

AUTH_ENV = "CONSULT_UI_AUTH"
LAUNCH_USER = "consult"
# What the page never does: a public share link, a browser tab opened for you, server-side rendering, an MCP
# server, monitoring, tracebacks to the browser, a run history kept in the reviewer's browser (audio, report JSON,
# transcript of every call, with an offer to sync them to a hub bucket) or footer links to it and to the API page.
SAFE_LAUNCH: dict[str, Any] = {
    "share": False, "inbrowser": False, "ssr_mode": False, "mcp_server": False, "enable_monitoring": False,
    "show_error": False, "run_history": False, "footer_links": [], "max_file_size": "500mb",
}
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860


def private_temp_dir() -> str:
    """Gradio's upload and cache folder, private to this user (0700): recordings and exports land there before
    the store. ``$GRADIO_TEMP_DIR`` when set (made 0700 if we create it), else a fresh folder under the system's."""
    import tempfile

    path = os.environ.get("GRADIO_TEMP_DIR", "").strip()
    if path:
        os.makedirs(path, mode=0o700, exist_ok=True)
    else:
        path = tempfile.mkdtemp(prefix="consult-gradio-")  # 0700
        os.environ["GRADIO_TEMP_DIR"] = path
    if os.stat(path).st_mode & 0o077:
        logger.warning("GRADIO_TEMP_DIR %s is readable by other users: chmod 700 it", path)
    return path


def _one_login(user: str, password: str) -> Any:
    """Gradio's ``auth`` for a single login, rate-limited like the accounts file (the password kept hashed)."""
    from consult.accounts import Account, Accounts, hash_password

    return Accounts({user: Account(user, "admin", hash_password(password))}).login


def parse_auth(value: str) -> tuple[str, str]:
    """``user:password`` -> (user, password). Raises ValueError when either part is empty."""
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise ValueError("the login must be given as user:password (both non-empty)")
    return user, password


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m demo",
        description="consult review page: transcribe a consultation, review the drafts, export FHIR.",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="interface to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default: 7860)")
    parser.add_argument("--lang", choices=("fr", "en"), default="fr", help="page language (default: fr)")
    parser.add_argument(
        "--auth",
        default=None,
        help=f"login user:password; required to listen on a non-loopback host (or set {AUTH_ENV})",
    )
    parser.add_argument(
        "--accounts",
        default=os.environ.get("CONSULT_ACCOUNTS") or None,
        help="accounts file (consult accounts add): logins with hashed passwords and roles; the signer is the "
        "logged-in account (default $CONSULT_ACCOUNTS)",
    )
    parser.add_argument(
        "--prescriber",
        default=os.environ.get("CONSULT_PRESCRIBER") or None,
        help="prescriber profile for the ordonnance: a JSON file with name, rpps, specialty, address, phone "
        "(default $CONSULT_PRESCRIBER)",
    )
    parser.add_argument("--session-idle-minutes", type=float, default=30.0,
                        help="a login ends after this long without a request (default 30)")
    parser.add_argument("--session-max-hours", type=float, default=12.0,
                        help="a login ends after this long in all (default 12)")
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a Host name reviewers use besides the loopback names and --host (e.g. a TLS proxy's); other Host "
        "headers are refused. Repeat for several.",
    )
    parser.add_argument(
        "--store",
        default=None,
        help="report store: a SQLite path, sqlite:///path or postgresql://... "
        "(default: $CONSULT_STORE, else ~/.local/share/consult/consult.db)",
    )
    parser.add_argument(
        "--audio-dir",
        default=None,
        help="where recordings processed on the page are kept for later listening "
        "(default: $CONSULT_AUDIO_DIR, else an 'audio' folder next to a SQLite store)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Launch the review page; returns the exit status (2 for a refused or invalid configuration)."""
    args = _parser().parse_args(argv)
    if not 0 < args.port < 65536:
        print(f"error: --port must be between 1 and 65535, got {args.port}", file=sys.stderr)
        return 2
    from consult.accounts import Accounts
    from consult.errors import ConsultError
    from consult.ordonnance import Prescriber

    try:  # the files the page needs, read before anything starts
        accounts = Accounts.load(args.accounts) if args.accounts else None
        prescriber = Prescriber.load(args.prescriber) if args.prescriber else None
    except ConsultError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    auth_text = args.auth or os.environ.get(AUTH_ENV) or None
    auth: Any = None
    if accounts is not None:
        auth = accounts.login  # hashed passwords, rate-limited
    elif auth_text:
        if args.auth:
            logger.warning("--auth puts the password in the process list (ps): prefer --accounts or %s", AUTH_ENV)
        try:
            user, password = parse_auth(auth_text)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        auth = _one_login(user, password)
    if not is_loopback(args.host) and auth is None:
        print(
            f"error: refusing to serve consultation data on non-loopback host {args.host!r} without a login. "
            f"Use --host 127.0.0.1 (default), or give --auth user:password (or set {AUTH_ENV}); "
            "prefer an SSH tunnel or a TLS reverse proxy in front of it.",
            file=sys.stderr,
        )
        return 2
    if not is_loopback(args.host):
        logger.warning("serving on %s with a login but without TLS: put it behind a TLS proxy", args.host)
    if auth is None:  # a login always: on loopback, one made for this launch, shown on this console only
        import secrets

        password = secrets.token_urlsafe(18)
        print(f"Login for this launch: user {LAUNCH_USER!r}, password {password!r}", flush=True)
        auth = _one_login(LAUNCH_USER, password)

    private_temp_dir()  # before gradio is imported

    from consult.store import default_store_url
    from demo.app import build_app

    app = build_app(language=args.lang, store=args.store or default_store_url(), audio_dir=args.audio_dir,
                    may=accounts.may if accounts is not None else None, prescriber=prescriber)
    from starlette.middleware import Middleware

    guard = Middleware(HostOriginGuard, allowed=allowed_hosts(args.host, args.allowed_host))
    expiry = Middleware(SessionExpiry, idle_s=args.session_idle_minutes * 60, max_s=args.session_max_hours * 3600)
    from demo.live import StreamChunkTap

    # every chunk of a live recording reaches its session, the ones Gradio's stream skips included (StreamChunkTap)
    tap = Middleware(StreamChunkTap, registry=app.consult_live)  # type: ignore[attr-defined]
    app.launch(server_name=args.host, server_port=args.port, auth=auth,
               app_kwargs={"middleware": [guard, expiry, tap]},
               **SAFE_LAUNCH)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
