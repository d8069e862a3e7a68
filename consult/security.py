"""Small shared checks of the services' exposure (the API, the review page): one home for each."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = ["LOOPBACK_NAMES", "HostOriginGuard", "SessionExpiry", "allowed_hosts", "is_loopback", "secret_file_lines"]


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1, ``[::1]``); False for 0.0.0.0 and the
    rest."""
    host = host.strip()
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def secret_file_lines(path: Path | str, what: str, *, missing_ok: bool = False) -> list[tuple[int, str]]:
    """(line number, stripped line) of a secrets file (accounts, tokens), blank lines and ``#`` comments left out.
    A missing file is an empty list when ``missing_ok``, else, like an unreadable one, a ConsultError naming it."""
    from consult.errors import ConsultError

    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        if missing_ok:
            return []
        raise ConsultError(f"{path}: cannot read the {what} file ({exc.strerror or exc})") from exc
    except OSError as exc:
        raise ConsultError(f"{path}: cannot read the {what} file ({exc.strerror or exc})") from exc
    lines = ((n, raw.strip()) for n, raw in enumerate(text.splitlines(), 1))
    return [(n, line) for n, line in lines if line and not line.startswith("#")]


LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})


def allowed_hosts(bind_host: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """The Host names a service answers to: the loopback names (and the address it listens on), plus ``extra``
    (the names users type, e.g. a reverse proxy's). Everything else is refused (DNS rebinding)."""
    names = set(LOOPBACK_NAMES)
    if bind_host and bind_host not in ("0.0.0.0", "::"):
        names.add(bind_host.strip("[]").lower())
    names.update(h.strip().strip("[]").lower() for h in extra if h.strip())
    return frozenset(names)


def _host_of(value: str) -> str:
    """``host[:port]`` or ``[v6]:port`` -> host, lower case."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class HostOriginGuard:
    """ASGI middleware: a request whose ``Host`` is not an allowed name gets 400; a state-changing request
    (POST, PUT, PATCH, DELETE, or a WebSocket) whose ``Origin`` names another host gets 403. Stops a page on
    another site (DNS rebinding, cross-site forms) from driving a service that listens on loopback."""

    def __init__(self, app: Any, allowed: Iterable[str]) -> None:
        self.app = app
        self.allowed = frozenset(allowed)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
            problem = None
            if _host_of(headers.get("host", "")) not in self.allowed:
                problem = (400, "host not allowed")
            elif scope["type"] == "websocket" or scope.get("method") in ("POST", "PUT", "PATCH", "DELETE"):
                origin = headers.get("origin")
                if origin and origin != "null" and _host_of(urlsplit(origin).netloc) not in self.allowed:
                    problem = (403, "cross-origin request refused")
                elif origin == "null":
                    problem = (403, "cross-origin request refused")
            if problem is not None:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                from starlette.responses import JSONResponse

                await JSONResponse({"detail": problem[1]}, status_code=problem[0])(scope, receive, send)
                return
        await self.app(scope, receive, send)


class SessionExpiry:
    """ASGI middleware for the review page: a login session ends after ``idle_s`` without a request or
    ``max_s`` in all; the reviewer logs in again. Gradio keeps its sessions in ``app.tokens`` (cookie
    ``access-token-<id>`` -> user) and never expires them: this drops the expired ones from there."""

    def __init__(self, app: Any, idle_s: float = 30 * 60, max_s: float = 12 * 3600) -> None:
        self.app = app
        self.idle_s, self.max_s = idle_s, max_s
        self._seen: dict[str, tuple[float, float]] = {}  # token -> (first, last)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            import time

            now = time.monotonic()
            tokens = getattr(scope.get("app"), "tokens", None)
            for token in self._cookies(scope):
                first, last = self._seen.get(token, (now, now))
                if now - last > self.idle_s or now - first > self.max_s:
                    if isinstance(tokens, dict):
                        tokens.pop(token, None)
                    self._seen.pop(token, None)
                elif isinstance(tokens, dict) and token in tokens:
                    self._seen[token] = (first, now)
        await self.app(scope, receive, send)

    @staticmethod
    def _cookies(scope: Any) -> list[str]:
        from http.cookies import SimpleCookie

        out = []
        for key, value in scope.get("headers", []):
            if key == b"cookie":
                jar: SimpleCookie = SimpleCookie()
                jar.load(value.decode("latin-1"))
                out += [m.value for name, m in jar.items() if name.startswith("access-token")]
        return out
