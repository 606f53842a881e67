"""Helpers for Clerk session-JWT tests: an RSA key, its JWKS file, signed tokens."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "https://clerk.gigsy.test"
AZP = "https://app.gigsy.test"
KID = "ins_test_1"


def new_rsa_key() -> rsa.RSAPrivateKey:
    """A fresh 2048-bit RSA signing key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def write_jwks(path: Path, key: rsa.RSAPrivateKey, *, kid: str = KID) -> Path:
    """Write a JWKS document holding the public half of ``key`` to ``path``."""
    jwk: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": kid, "use": "sig", "alg": "RS256"})
    path.write_text(json.dumps({"keys": [jwk]}), encoding="utf-8")
    return path


def make_token(
    key: rsa.RSAPrivateKey,
    sub: str,
    *,
    kid: str = KID,
    exp_in: int = 60,
    nbf_in: int = 0,
    iss: str | None = ISSUER,
    azp: str | None = AZP,
    aud: str | list[str] | None = None,
) -> str:
    """A Clerk-like session token; ``None`` leaves ``iss``/``azp``/``aud`` out."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": sub,
        "iat": now,
        "nbf": now + nbf_in,
        "exp": now + exp_in,
        "sid": "sess_1",
    }
    for name, value in (("iss", iss), ("azp", azp), ("aud", aud)):
        if value is not None:
            claims[name] = value
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def bearer(token: str) -> dict[str, str]:
    """``Authorization: Bearer <token>``."""
    return {"Authorization": f"Bearer {token}"}
