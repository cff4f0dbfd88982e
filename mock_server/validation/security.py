"""Authentication: the 401 is decided here."""
from __future__ import annotations

from collections.abc import Collection, Mapping

from ..errors import ApiError
from ..openapi.spec import Operation


def check_security(
    op: Operation, headers: Mapping[str, str], tokens: Collection[str] | None
) -> None:
    """Pass when one of the operation's security alternatives is satisfied.

    ``tokens`` limits the accepted credentials; ``None`` accepts any non-empty one.
    """
    alternatives = op.security.schemes
    if not alternatives:
        return
    failure: ApiError | None = None
    for requirement in alternatives:
        try:
            for scheme in requirement.values():
                _check_scheme(scheme, headers, tokens)
            return
        except ApiError as exc:
            failure = failure or exc
    assert failure is not None
    raise failure


def is_bearer_only(op: Operation) -> bool:
    """Whether ``op``'s security is exactly one bearer token: then :func:`check_bearer` alone is
    :func:`check_security` (same passes, same 401s), with no scheme to read per request."""
    alternatives = op.security.schemes
    if len(alternatives) != 1 or len(alternatives[0]) != 1:
        return False
    scheme = next(iter(alternatives[0].values()))
    return scheme.get("type") == "http" and str(scheme.get("scheme", "")).lower() == "bearer"


def _check_scheme(
    scheme: Mapping[str, object], headers: Mapping[str, str], tokens: Collection[str] | None
) -> None:
    kind = scheme.get("type")
    if kind == "http" and str(scheme.get("scheme", "")).lower() == "bearer":
        check_bearer(headers, tokens)
    elif kind == "apiKey" and scheme.get("in") == "header":
        name = str(scheme.get("name", ""))
        value = headers.get(name.lower(), "").strip()
        if not value:
            raise ApiError.of(401, name, "an API key is required")
        _check_token(value, name, tokens)
    else:
        # Schemes the mock cannot check (OAuth flows, cookies) are treated as satisfied.
        return


def check_bearer(headers: Mapping[str, str], tokens: Collection[str] | None) -> None:
    """401 unless ``Authorization`` is ``Bearer <token>`` with an accepted token."""
    value = headers.get("authorization")
    if value is None:
        raise ApiError.of(401, "Authorization", "a bearer token is required")
    prefix, _, token = value.strip().partition(" ")
    token = token.strip()
    if prefix.lower() != "bearer" or not token:
        raise ApiError.of(401, "Authorization", "must be 'Bearer <token>'")
    _check_token(token, "Authorization", tokens)


def _check_token(token: str, field: str, tokens: Collection[str] | None) -> None:
    if tokens is not None and token not in tokens:
        raise ApiError.of(401, field, "the token is not accepted")
