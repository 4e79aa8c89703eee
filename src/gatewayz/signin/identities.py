"""Accounts at sign-in providers linked to Gatewayz users, and what a sign-in hands out.

A provider's subject links to exactly one user, created on its first sign-in. The email the provider
gives becomes the new user's email; one that already belongs to another user is refused (409)
rather than linked: linking by email would let whoever controls that address at any configured
provider take over the account. Without an email the user gets a placeholder under `.invalid`.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection
from starlette.responses import Response

from gatewayz.accounts import service
from gatewayz.accounts.schemas import KeyCreated
from gatewayz.accounts.tables import User
from gatewayz.audit.records import audit_user_action, write_audit
from gatewayz.errors import AuthenticationFailed, Conflict
from gatewayz.signin.schemas import SessionCreated, SignedIn
from gatewayz.signin.sessions import CSRF_COOKIE, SESSION_COOKIE, Sessions
from gatewayz.signin.tables import SigninIdentity, SigninPassword, SigninSession
from gatewayz.storage.types import utcnow


async def email_unverified(session: AsyncSession, user: User) -> bool:
    """Whether the account's email address is only the word of whoever signed up with a password:
    it has a password and no identity provider vouched for that address (accounts made by an admin,
    or through OpenID Connect or Privy with a verified email, are not)."""
    has_password = (await session.execute(
        select(SigninPassword.user_id).where(SigninPassword.user_id == user.id))).first() is not None
    if not has_password:
        return False
    vouched = (await session.execute(select(SigninIdentity.id).where(
        SigninIdentity.user_id == user.id, SigninIdentity.email == user.email).limit(1))).first()
    return vouched is None


def placeholder_email(provider: str, subject: str) -> str:
    digest = hashlib.sha256(f"{provider}\0{subject}".encode()).hexdigest()[:24]
    return f"{provider.replace(':', '-')}-{digest}@users.invalid"


async def _find_identity(session: AsyncSession, provider: str, subject: str) -> SigninIdentity | None:
    return (await session.execute(select(SigninIdentity).where(
        SigninIdentity.provider == provider, SigninIdentity.subject == subject))).scalar_one_or_none()


async def user_for_identity(session: AsyncSession, provider: str, subject: str,
                            email: str | None) -> tuple[User, bool]:
    """The linked user (and whether it was created now). Call inside a transaction."""
    identity = await _find_identity(session, provider, subject)
    if identity is not None:
        identity.last_sign_in_at = utcnow()
        user = await service.get_user(session, identity.user_id)
        return user, False
    address = email.strip().lower() if email else None
    if address and (await session.execute(select(User.id).where(User.email == address))).first() is not None:
        raise Conflict(
            "This email already belongs to an account; sign in to it with its own method.",
            param="email", code="email_in_use",
        )
    user = await service.create_user(session, email=address or placeholder_email(provider, subject),
                                     name=None, role="user")
    session.add(SigninIdentity(user_id=user.id, provider=provider, subject=subject, email=address,
                               last_sign_in_at=utcnow()))
    try:
        await session.flush()
    except IntegrityError as exc:  # the same subject's first sign-in racing in another request: it won
        raise Conflict("Another sign-in of this account is being set up; try again.", code="signin_conflict") from exc
    return user, True


def require_active(user: User) -> None:
    if not user.is_active:
        raise AuthenticationFailed("This account is deactivated.", code="account_deactivated")


def session_out(record: SigninSession, token: str, csrf: str) -> SessionCreated:
    return SessionCreated(id=record.id, method=record.method, ip=record.ip, user_agent=record.user_agent,
                          created_at=record.created_at, expires_at=record.expires_at, token=token, csrf_token=csrf)


async def sign_in(session: AsyncSession, sessions: Sessions, conn: HTTPConnection, ip: str | None, user: User,
                  method: str, *, created: bool, secret: bytes, environment: str, first_key: bool = True) -> SignedIn:
    """A new session for `user`, plus the first API key when the account was created just now (and
    the answer can show it: not through a browser redirect)."""
    require_active(user)
    record, token = await sessions.create(session, user, method, ip, conn.headers.get("user-agent"))
    if created:
        await audit_user_action(session, conn, user.id, "user.create", {"email": user.email, "method": method})
    await audit_user_action(session, conn, user.id, "user.sign_in", {"method": method, "session_id": record.id})
    api_key = None
    if created and first_key:
        key, plaintext = await service.create_key(session, secret, user, service.first_key_spec(user),
                                                  default_environment=environment)
        api_key = KeyCreated(**service.key_out(key).model_dump(), key=plaintext)
        await write_audit(session, conn, actor_user_id=user.id, actor_key_id=None, action="api_key.create",
                          target_type="api_key", target_id=key.id, before=None,
                          after={"name": key.name, "scopes": list(key.scopes or ()), "first_key": True})
    return SignedIn(user=service.user_out(user), session=session_out(record, token, sessions.csrf_for(record)),
                    created=created, api_key=api_key)


def set_cookies(response: Response, signed: SignedIn, *, secure: bool, max_age: int) -> None:
    response.set_cookie(SESSION_COOKIE, signed.session.token, max_age=max_age, path="/", secure=secure,
                        httponly=True, samesite="lax")
    response.set_cookie(CSRF_COOKIE, signed.session.csrf_token, max_age=max_age, path="/", secure=secure,
                        httponly=False, samesite="lax")


def clear_cookies(response: Response, *, secure: bool) -> None:
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(name, path="/", secure=secure, httponly=name == SESSION_COOKIE, samesite="lax")
