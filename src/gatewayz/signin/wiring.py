"""The sign-in objects of a process, built once with the other services."""

from __future__ import annotations

from dataclasses import dataclass

from gatewayz.accounts.auth import Authenticator
from gatewayz.audit.security_events import SecurityEventWriter
from gatewayz.limits.limiter import Limiter
from gatewayz.settings import Settings
from gatewayz.signin.guard import SigninGuard
from gatewayz.signin.http import Fetcher
from gatewayz.signin.oidc import OidcProvider, build_providers
from gatewayz.signin.privy import PrivyVerifier, build_privy
from gatewayz.signin.sessions import Sessions
from gatewayz.storage.db import Database
from gatewayz.teams.keys import TeamKeys


@dataclass
class Signin:
    sessions: Sessions
    guard: SigninGuard
    fetcher: Fetcher
    privy: PrivyVerifier | None
    oidc: dict[str, OidcProvider]

    @classmethod
    def build(cls, settings: Settings, db: Database, auth: Authenticator, limits: Limiter,
              events: SecurityEventWriter) -> Signin:
        secret = settings.key_hash_secret_bytes
        fetcher = Fetcher()
        sessions = Sessions(db, secret, settings.environment, settings.session_ttl_seconds)
        auth.sessions = sessions  # sessions authenticate through the same path (and cache) as keys
        auth.teams = TeamKeys()  # a team pool's keys are completed with their team and member
        return cls(
            sessions=sessions,
            guard=SigninGuard(settings, limits, events, secret),
            fetcher=fetcher,
            privy=build_privy(settings, fetcher),
            oidc=build_providers(settings, fetcher),
        )

    async def close(self) -> None:
        await self.fetcher.close()
