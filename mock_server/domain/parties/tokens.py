"""Tokens the API hands out: ``POST /authenticate`` and ``POST /portal/token``.

Both answer a JWT (HS256) that the mock makes from the request and the
state, with nothing stored. The mock signs with a fixed, public key
(:data:`SIGNING_KEY`): these tokens are for a client to carry and decode,
not a secret. Times come from the store's clock, so a seeded server answers
the same tokens for the same requests.

``authenticate``: called with a JWT, Togai answers that same token; called
with an API key, a JWT valid for 24 hours. The mock has no users: any bearer
token the security stage accepted (any, or one of ``--token``) is an API key
unless it is a JWT. The new JWT names the key by a short fingerprint, never
in clear (answers are journaled).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from ..core.errors import Invalid, Violation
from ..core.store import Store
from ..core.times import epoch_seconds

SIGNING_KEY = b"togai-mock-server"  # public on purpose: a mock's tokens prove nothing
ISSUER = "togai-mock"
API_TOKEN_LIFETIME = 24 * 3600  # seconds, as Togai documents for /authenticate
MAX_PORTAL_ACCOUNTS = 5  # "Maximum of 5 account ids can be provided"
_HEADER = {"alg": "HS256", "typ": "JWT"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(claims: dict[str, Any]) -> str:
    """A compact JWT of ``claims``, HS256 with :data:`SIGNING_KEY`."""
    head = _b64(json.dumps(_HEADER, separators=(",", ":")).encode())
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(SIGNING_KEY, f"{head}.{body}".encode("ascii"), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(signature)}"


def claims_of(token: str) -> dict[str, Any] | None:
    """The claims of a well-formed JWT (any issuer, signature not checked), or ``None`` for anything else."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        header = json.loads(_unb64(parts[0]))
        claims = json.loads(_unb64(parts[1]))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(header, dict) or "alg" not in header or not isinstance(claims, dict):
        return None
    return claims


def authenticate(store: Store, token: str) -> str:
    """``POST /authenticate`` called with ``token``: a JWT is answered back; an API key gets a JWT
    valid for 24 hours."""
    if claims_of(token) is not None:
        return token
    issued = epoch_seconds(store.clock.now())
    key = hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    claims = {"iss": ISSUER, "sub": f"apikey:{key}", "iat": issued, "exp": issued + API_TOKEN_LIFETIME}
    return sign(claims)


def portal_token(
    store: Store,
    caller: str,
    customer_id: str,
    account_ids: list[str],
    every: bool,
    expiry: int | None,
) -> str:
    """``POST /portal/token`` called with the bearer token ``caller``: a delegate token for one
    customer and some or all of its accounts.

    The customer must exist and not be archived; ``account_ids`` (at most 5,
    a repeat counts once) must be its own, not archived accounts, unless
    ``every`` (``allAccountsAccess``) asks for all of them (not both, not neither).
    ``expiry`` is the lifetime in seconds; without it, the calling token's
    (a JWT's ``exp``), else 24 hours.
    """
    customer = store.collections["customers"].get(customer_id)
    if customer is None:
        raise Invalid.at("customerId", f"no customer with id {customer_id!r}")
    if customer["status"] == "ARCHIVED":
        raise Invalid.at("customerId", f"customer {customer['id']!r} is archived")
    wanted = list(dict.fromkeys(account_ids))
    problems: list[Violation] = []
    if every and wanted:
        problems.append(Violation("accountIds", "must be left out with allAccountsAccess: true"))
    elif not every and not wanted:
        problems.append(Violation("accountIds", "must name at least one account, or set allAccountsAccess: true"))
    if len(wanted) > MAX_PORTAL_ACCOUNTS:
        problems.append(Violation("accountIds", f"must name at most {MAX_PORTAL_ACCOUNTS} accounts"))
    for i, account_id in enumerate(account_ids):
        account = store.collections["accounts"].get(account_id)
        if account is None:
            problems.append(Violation(f"accountIds[{i}]", f"no account with id {account_id!r}"))
        elif account["customerId"] != customer["id"]:
            problems.append(Violation(f"accountIds[{i}]", f"account {account_id!r} belongs to customer "
                                      f"{account['customerId']!r}, not {customer['id']!r}"))
        elif account["status"] == "ARCHIVED":
            problems.append(Violation(f"accountIds[{i}]", f"account {account_id!r} is archived"))
    if expiry is not None and expiry <= 0:
        problems.append(Violation("expiry", "must be greater than 0 (seconds)"))
    if problems:
        raise Invalid(problems)
    issued = epoch_seconds(store.clock.now())
    calling = claims_of(caller) or {}
    if expiry is not None:
        expires = issued + expiry
    elif isinstance(calling.get("exp"), int):
        expires = calling["exp"]
    else:
        expires = issued + API_TOKEN_LIFETIME
    claims: dict[str, Any] = {"iss": ISSUER, "aud": "customer-portal", "sub": customer["id"], "iat": issued,
                              "exp": expires}
    if every:
        claims["allAccountsAccess"] = True
    else:
        claims["accountIds"] = wanted
    return sign(claims)
