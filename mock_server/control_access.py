"""Who may call the control API (``/__mock``), decided before it does anything.

- With ``--token``, a control call needs one of those bearer tokens too (401).
- Its ``Host`` must be a loopback name or address, the ``--host`` the server
  listens on, or one given with ``--allow-host`` (403): a web page that
  rebinds its own DNS name to 127.0.0.1 still sends that name, so it cannot
  drive the mock from a developer's browser.
- A call that changes something must say ``Content-Type: application/json``
  (415), even without a body: a browser sends that only after a CORS
  preflight, so a plain form or ``text/plain`` post from another site
  changes nothing.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .errors import ApiError
from .validation.security import check_bearer

_CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def is_loopback(host: str) -> bool:
    """``localhost``, ``127.x.x.x`` or ``::1`` (with or without brackets)."""
    name = host.strip().lower().rstrip(".")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(value: str) -> str:
    """The name of a ``Host`` header, without its port: ``[::1]:4010`` -> ``[::1]``."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        return value[: end + 1] if end != -1 else value
    name, sep, port = value.rpartition(":")
    return name if sep and port.isascii() and port.isdigit() else value


@dataclass(frozen=True, slots=True)
class ControlAccess:
    """The rules above, for one server."""

    tokens: frozenset[str] | None  # None: no token needed
    hosts: frozenset[str]  # allowed besides loopback, lower case, as names or name:port

    @classmethod
    def create(cls, tokens: Iterable[str], allow_hosts: Iterable[str], listen_host: str) -> ControlAccess:
        """From the server's ``--token``, ``--allow-host`` and ``--host`` flags."""
        hosts = {h.strip().lower() for h in allow_hosts if h.strip()}
        # The address the server listens on, even 0.0.0.0: a rebound DNS name never arrives as an address.
        listen = listen_host.strip().lower()
        if listen:
            hosts.add(f"[{listen}]" if ":" in listen else listen)
        return cls(frozenset(tokens) or None, frozenset(hosts))

    def admit(self, headers: Mapping[str, str]) -> None:
        """403 for a foreign ``Host``, then 401 without an accepted token."""
        host = headers.get("host")
        if host is not None and not self.host_allowed(host):
            shown = host if len(host) <= 100 else host[:100] + "…"
            raise ApiError.of(
                403, "Host", f"{shown!r} is not a loopback address; start the mock with --allow-host to allow it"
            )
        if self.tokens is not None:
            check_bearer(headers, self.tokens)

    def host_allowed(self, value: str) -> bool:
        """Whether a ``Host`` header names this machine or an allowed host."""
        name = host_name(value)
        return is_loopback(name) or name in self.hosts or value.strip().lower() in self.hosts

    def require_json(self, method: str, headers: Mapping[str, str]) -> None:
        """415 for a call that changes something without ``Content-Type: application/json``."""
        if method not in _CHANGES:
            return
        content_type = headers.get("content-type", "")
        media, _, params = content_type.partition(";")
        charset_ok = all(
            value.strip().strip('"').lower() in ("utf-8", "utf8")
            for key, _, value in (p.strip().partition("=") for p in params.split(";") if p.strip())
            if key.lower() == "charset"
        )
        if media.strip().lower() != "application/json" or not charset_ok:
            raise ApiError.of(415, "Content-Type", "must be application/json for a call that changes the mock")

