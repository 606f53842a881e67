"""Verifying Clerk session JWTs (RS256) against a JWKS file or URL.

Checks, per Clerk's "Manual JWT verification" guide: the RS256 signature with a
key from the instance's JWKS (chosen by ``kid``), ``exp`` and ``nbf`` with a small
leeway, the issuer (always), the audience when one is configured, and ``azp``
against the permitted origins when some are configured (a token without ``azp``
is then refused). ``sub`` is the user's clerkId. Presence and value checks are
PyJWT's own (``issuer=``, ``audience=``, ``options["require"]``); only the
``azp`` membership test is done here, as PyJWT has no option for it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jwt
from jwt.types import Options

__all__ = ["ClerkJwtVerifier", "InvalidTokenError", "looks_like_jwt"]

InvalidTokenError = jwt.PyJWTError
"""Base of every token failure PyJWT raises (bad key, signature, claims)."""


def looks_like_jwt(token: str) -> bool:
    """Three base64url segments separated by dots (API keys have none)."""
    return token.count(".") == 2


class ClerkJwtVerifier:
    """Validate Clerk session tokens.

    Args:
        jwks_url: the instance's ``/.well-known/jwks.json`` (keys cached by PyJWT).
        jwks_file: a local JWKS document (for networks without egress, and tests).
        issuer: expected ``iss`` (the Clerk Frontend API URL); required.
        audience: accepted ``aud`` value(s); ``None`` skips the check (Clerk's default
            session token has no ``aud``; a custom token template may add one).
        authorized_parties: permitted ``azp`` origins; empty skips the check,
            otherwise a token must carry one of them.
        leeway_s: clock skew allowed on ``exp``/``nbf``, in seconds.

    Raises:
        ValueError: neither ``jwks_url`` nor ``jwks_file`` is given, or no issuer.
    """

    def __init__(
        self,
        *,
        issuer: str,
        jwks_url: str | None = None,
        jwks_file: Path | None = None,
        audience: str | list[str] | None = None,
        authorized_parties: list[str] | None = None,
        leeway_s: int = 5,
    ) -> None:
        if not jwks_url and not jwks_file:
            raise ValueError("a JWKS URL or file is required")
        if not issuer:
            raise ValueError("an issuer is required to verify Clerk session tokens")
        self._client = jwt.PyJWKClient(jwks_url, cache_keys=True) if jwks_url else None
        self._keys: dict[str, Any] = {}
        if jwks_file is not None:
            jwks = jwt.PyJWKSet.from_dict(json.loads(Path(jwks_file).read_text(encoding="utf-8")))
            self._keys = {k.key_id: k for k in jwks.keys if k.key_id}
        self.issuer = issuer
        self.audience = audience or None
        self.authorized_parties = list(authorized_parties or [])
        self.leeway_s = leeway_s
        required = ["exp", "sub", "iss"]
        if self.audience is not None:
            required.append("aud")
        if self.authorized_parties:
            required.append("azp")
        self._options: Options = {
            "require": required,
            "verify_aud": self.audience is not None,
        }

    def _key(self, token: str) -> Any:
        kid = jwt.get_unverified_header(token).get("kid")
        if self._client is not None:
            return self._client.get_signing_key_from_jwt(token).key
        if kid not in self._keys:
            raise jwt.InvalidTokenError(f"unknown signing key {kid!r}")
        return self._keys[kid].key

    def verify(self, token: str) -> dict[str, Any]:
        """Return the claims of a valid token.

        Raises:
            InvalidTokenError: bad signature, unknown key, expired, not yet valid,
                missing or wrong issuer, missing or wrong audience (when configured),
                missing or unauthorized ``azp`` (when configured), or no ``sub``.
        """
        key = self._key(token)
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            issuer=self.issuer,
            audience=self.audience,
            leeway=self.leeway_s,
            options=self._options,
        )
        if self.authorized_parties and claims["azp"] not in self.authorized_parties:
            raise jwt.InvalidTokenError(f"azp {claims['azp']!r} is not an authorized party")
        return claims
