"""Loopback stand-ins for sign-in providers: a JWKS server (Privy's key endpoint) and a small
OpenID Connect provider (discovery, authorize, token, JWKS), both real HTTP servers, with keys and
tokens made by the tests."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm


@dataclass
class SigningKey:
    kid: str
    alg: str
    private: Any

    @classmethod
    def ec(cls, kid: str | None = None) -> SigningKey:
        return cls(kid or secrets.token_hex(6), "ES256", ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def rsa(cls, kid: str | None = None) -> SigningKey:
        return cls(kid or secrets.token_hex(6), "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def jwk(self) -> dict[str, Any]:
        algorithm = ECAlgorithm if self.alg == "ES256" else RSAAlgorithm
        data = dict(algorithm.to_jwk(self.private.public_key(), as_dict=True))  # type: ignore[call-overload]
        return {**data, "kid": self.kid, "alg": self.alg, "use": "sig"}

    def public_pem(self) -> str:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        return jwt.encode(claims, self.private, algorithm=self.alg, headers={"kid": self.kid, **header})


def claims(iss: str, aud: str, sub: str, *, lifetime: float = 300, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": iss, "aud": aud, "sub": sub, "iat": now, "exp": now + int(lifetime), **extra}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(claims_: dict[str, Any]) -> str:
    """An `alg: none` token: header and payload, empty signature."""
    return f"{b64(orjson.dumps({'alg': 'none', 'typ': 'JWT'}))}.{b64(orjson.dumps(claims_))}."


def tampered(token: str) -> str:
    head, body, sig = token.split(".")
    payload = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["sub"] = payload["sub"] + "-other"
    return f"{head}.{b64(orjson.dumps(payload))}.{sig}"


class _Server:
    def __init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                owner.answer(self, "GET", b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                owner.answer(self, "POST", self.rfile.read(length))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def answer(self, handler: BaseHTTPRequestHandler, method: str, body: bytes) -> None:
        status, headers, payload = self.route(method, handler.path, {k.lower(): v for k, v in handler.headers.items()},
                                             body)
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("content-length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def route(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        raise NotImplementedError

    def __enter__(self) -> Any:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _json(data: Any, status: int = 200) -> tuple[int, dict[str, str], bytes]:
    return status, {"content-type": "application/json"}, orjson.dumps(data)


class JwksServer(_Server):
    """Serves /jwks.json with the current keys; counts the fetches."""

    def __init__(self, *keys: SigningKey) -> None:
        super().__init__()
        self.keys = list(keys)
        self.fetches = 0

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/jwks.json"

    def route(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        if path == "/jwks.json":
            self.fetches += 1
            return _json({"keys": [k.jwk() for k in self.keys]})
        return _json({"error": "not found"}, 404)


@dataclass
class _Grant:
    redirect_uri: str
    challenge: str
    nonce: str
    subject: str


@dataclass
class FakeOidc(_Server):
    """An OpenID provider that approves every authorization request for `subject`."""

    client_id: str = "gw-client"
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    subject: str = "oidc-user-1"
    email: str | None = None
    wrong_nonce: bool = False

    def __post_init__(self) -> None:
        super().__init__()
        self.key = SigningKey.rsa()
        self.grants: dict[str, _Grant] = {}
        self.token_requests: list[dict[str, str]] = []

    @property
    def issuer(self) -> str:
        return self.url

    def id_token(self, **overrides: Any) -> str:
        extra = {"email": self.email, "email_verified": True} if self.email else {}
        return self.key.sign({**claims(self.issuer, self.client_id, self.subject, **extra), **overrides})

    def route(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        url = urlsplit(path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/.well-known/openid-configuration":
            return _json({"issuer": self.issuer, "authorization_endpoint": f"{self.url}/authorize",
                          "token_endpoint": f"{self.url}/token", "jwks_uri": f"{self.url}/jwks"})
        if url.path == "/jwks":
            return _json({"keys": [self.key.jwk()]})
        if url.path == "/authorize":
            assert query["client_id"] == self.client_id and query["code_challenge_method"] == "S256"
            code = secrets.token_urlsafe(16)
            self.grants[code] = _Grant(query["redirect_uri"], query["code_challenge"], query["nonce"], self.subject)
            target = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query["state"]})
            return 302, {"location": target}, b""
        if url.path == "/token" and method == "POST":
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            self.token_requests.append(form)
            expected = "Basic " + base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
            grant = self.grants.pop(form.get("code", ""), None)  # a code works once
            verifier = form.get("code_verifier", "")
            if (headers.get("authorization") != expected or grant is None
                    or b64(hashlib.sha256(verifier.encode()).digest()) != grant.challenge
                    or form.get("redirect_uri") != grant.redirect_uri):
                return _json({"error": "invalid_grant"}, 400)
            nonce = "not-the-nonce" if self.wrong_nonce else grant.nonce
            return _json({"access_token": "at", "token_type": "Bearer", "id_token": self.id_token(nonce=nonce)})
        return _json({"error": "not found"}, 404)
