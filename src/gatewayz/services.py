"""The per-process objects every request needs, created once in the app's lifespan."""

from __future__ import annotations

import gc
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import HTTPConnection

if TYPE_CHECKING:
    from redis.asyncio import Redis

from gatewayz.accounts.activity import KeyActivity
from gatewayz.accounts.auth import Authenticator
from gatewayz.accounts.cache import AuthInvalidation, KeyCache
from gatewayz.accounts.role_book import RoleBook
from gatewayz.accounts.service import Invalidation
from gatewayz.audit.records import audit_system
from gatewayz.audit.security_events import SecurityEventWriter
from gatewayz.billing.holds import HoldLedger
from gatewayz.billing.idempotency import IdempotencyStage
from gatewayz.billing.jobs import BillingJobs
from gatewayz.billing.leases import LeaseBook
from gatewayz.billing.settlement import Settler
from gatewayz.billing.stage import BillingStage, decorate_usage
from gatewayz.crypto import SecretBox
from gatewayz.history.conversations import ConversationStore
from gatewayz.history.responses import ResponseStore
from gatewayz.history.stage import HistoryStage
from gatewayz.images.service import ImagesService
from gatewayz.images.store import open_image_store
from gatewayz.inference.dispatch import Dispatcher, RetryPolicy
from gatewayz.inference.pipeline import Stages
from gatewayz.inference.responses_state import ResponsesState
from gatewayz.inference.service import InferenceService
from gatewayz.limits.limiter import Limiter, limiter_redis
from gatewayz.limits.sources import LimitSource
from gatewayz.limits.stage import build_rate_limit_stage
from gatewayz.payments.client import StripeApi
from gatewayz.plans.book import PlanBook, ensure_builtin_plans
from gatewayz.plans.entitlements import PlanGate, PlanSource
from gatewayz.plans.jobs import PlanJobs
from gatewayz.promotions.lapses import CouponLapses
from gatewayz.providers.breaker import Breakers
from gatewayz.providers.catalog import Catalog
from gatewayz.providers.health import LiveHealth
from gatewayz.providers.health_stage import HealthStage
from gatewayz.providers.health_store import HealthStore
from gatewayz.providers.registry import ProviderSpec, load_providers
from gatewayz.providers.router import Router
from gatewayz.providers.upstream import UpstreamClients
from gatewayz.settings import Settings
from gatewayz.signin.wiring import Signin
from gatewayz.storage.db import Database
from gatewayz.storage.fastsql import FastSQL
from gatewayz.storage.retention import Retention, purge_table


def pipeline_stages(
    settings: Settings, db: Database, catalog: Catalog, limits: Limiter, billing: BillingStage,
    history: HistoryStage | None = None, health: HealthStage | None = None, plan: LimitSource | None = None,
) -> Stages:
    """The stages around every provider call, in admission order (finish runs in reverse).
    History comes first: rate limits and the credit hold count the history it injects."""
    return Stages([
        *([history] if history is not None else []),
        build_rate_limit_stage(settings, limits, plan),
        IdempotencyStage(db, settings.credit_hold_ttl_seconds),
        billing,
        *([health] if health is not None else []),
    ])


GC_THRESHOLDS = (20_000, 20, 20)  # CPython's default: (700, 10, 10)


def tune_gc() -> None:
    """Once started: what start-up built (modules, settings, routes, caches) moves out of the
    collector's reach (`gc.freeze`), and the youngest generation is collected every 20,000
    allocations instead of 700: a request allocates a few thousand objects that reference
    counting frees, so the default collector mostly rescans survivors. Cycles are still collected."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def retention_jobs(settings: Settings, db: Database, sql: FastSQL,
                   conversations: ConversationStore) -> tuple[Retention, ...]:
    """One purge per retention setting that is set (unset: kept forever); each purge that removed
    rows leaves a system record in the audit trail."""

    async def purged(name: str, rows: int, days: float) -> None:
        async with db.transaction() as session:
            await audit_system(session, "retention.purge", "table", name, after={"rows": rows, "days": days})

    jobs = []
    if settings.history_retention_days:
        jobs.append(Retention(conversations.purge_older_than, settings.history_retention_days, name="conversations",
                              purged=purged))
    for table, days in (("audit_records", settings.audit_retention_days),
                        ("security_events", settings.security_event_retention_days),
                        ("usage_records", settings.usage_retention_days)):
        if days:
            jobs.append(Retention(purge_table(sql, table), days, name=table, purged=purged))
    return tuple(jobs)


@dataclass
class Services:
    settings: Settings
    db: Database
    redis: Redis | None
    key_cache: KeyCache
    invalidation: AuthInvalidation
    events: SecurityEventWriter
    activity: KeyActivity
    auth: Authenticator
    secret_box: SecretBox
    providers: dict[str, ProviderSpec]
    clients: UpstreamClients
    catalog: Catalog
    breakers: Breakers
    limits: Limiter
    inference: InferenceService
    billing_jobs: BillingJobs
    fast_sql: FastSQL
    conversations: ConversationStore
    health_store: HealthStore
    roles: RoleBook
    started_at: float
    signin: Signin
    plans: PlanBook
    images: ImagesService | None = None
    stripe: StripeApi | None = None

    @classmethod
    def build(cls, settings: Settings, db: Database, redis: Redis | None, started_at: float) -> Services:
        key_cache = KeyCache(settings.key_cache_ttl_seconds)
        events = SecurityEventWriter(db)
        activity = KeyActivity(db)
        auth = Authenticator(settings, db, key_cache, events, activity)
        providers = load_providers(settings)
        clients = UpstreamClients()
        catalog = Catalog(providers, clients, refresh_seconds=settings.catalog_refresh_seconds)
        breakers = Breakers(settings.breaker_threshold, settings.breaker_cooldown_seconds)
        policy = RetryPolicy(
            settings.retry_max_retries, settings.retry_base_delay_seconds, settings.retry_max_delay_seconds
        )
        health = LiveHealth()
        router = Router(providers, catalog, breakers, health)
        fast_sql = FastSQL(settings)
        holds = HoldLedger(fast_sql)
        settler = Settler(holds, settings.data_dir)
        # A lease must outlive two billing-job runs (each run pushes back the expiry of live leases).
        lease_ttl = max(settings.credit_lease_ttl_seconds, 3 * settings.billing_job_interval_seconds)
        leases = LeaseBook(holds, lease_ttl, settings.credit_lease_idle_seconds) if settings.credit_leases else None
        billing = BillingStage(settings, holds, catalog, settler, leases)
        limits = Limiter(limiter_redis(settings), probe_seconds=settings.rate_limit_probe_seconds, owns_redis=True)
        response_store = ResponseStore(fast_sql, settings.data_dir)
        conversations = ConversationStore(fast_sql, settings.data_dir, max_items=settings.history_max_items,
                                          max_item_bytes=settings.history_max_item_bytes)
        history = HistoryStage(conversations, catalog, settings)
        roles = RoleBook(db)
        plans = PlanBook(db, settings.default_plan, settings.trial_plan)
        plans.after_change = key_cache.clear  # principals (and the limits cached for them) built anew
        auth.plans = PlanGate(db, plans)
        invalidation = AuthInvalidation(settings, db, redis, key_cache, fast_sql)

        def definitions_changed() -> None:  # a role's or a plan's definition changed somewhere
            roles.request_reload()
            plans.request_reload()

        invalidation.on_roles = definitions_changed

        async def publish_change(change: Invalidation) -> None:
            await invalidation.publish(change.version, hashes=change.hashes, user_id=change.user_id,
                                       roles=change.roles)

        plan_jobs = PlanJobs(db, settings, publish_change)
        inference = InferenceService(
            auth,
            router,
            Dispatcher(clients, breakers, policy, health),
            catalog,
            stages=pipeline_stages(settings, db, catalog, limits, billing, history, HealthStage(health),
                                   PlanSource(plans)),
            decorate_usage=decorate_usage,
            responses=ResponsesState(response_store, auth),
            history=history,
        )
        image_store = open_image_store(settings)
        stripe_api = StripeApi(settings)
        coupon_lapses = CouponLapses(db, settings, stripe_api)
        return cls(
            settings=settings,
            db=db,
            redis=redis,
            key_cache=key_cache,
            invalidation=invalidation,
            events=events,
            activity=activity,
            auth=auth,
            secret_box=SecretBox.from_settings(settings),
            providers=providers,
            clients=clients,
            catalog=catalog,
            breakers=breakers,
            limits=limits,
            inference=inference,
            billing_jobs=BillingJobs(
                db,
                holds,
                settings.billing_job_interval_seconds,
                settler=settler,
                live_holds=billing.live_holds,
                leases=leases,
                hold_ttl=settings.credit_hold_ttl_seconds,
                drains=(response_store.drain, conversations.drain, image_store.sweep, plan_jobs.tick,
                        coupon_lapses.tick,
                        *retention_jobs(settings, db, fast_sql, conversations)),
            ),
            fast_sql=fast_sql,
            conversations=conversations,
            health_store=HealthStore(fast_sql, health, settings.provider_health_sync_seconds),
            roles=roles,
            plans=plans,
            started_at=started_at,
            signin=Signin.build(settings, db, auth, limits, events),
            images=ImagesService(inference, image_store, settings.allow_unpriced_models),
            stripe=stripe_api,
        )

    async def open(self) -> None:
        """Connect what needs connecting, then start the background work."""
        await self.fast_sql.open()
        await self.roles.reload()
        async with self.db.transaction() as session:
            await ensure_builtin_plans(session)
        await self.plans.reload()
        self.start()
        tune_gc()

    def start(self) -> None:
        self.invalidation.start()
        self.events.start()
        self.activity.start()
        self.catalog.start()
        self.health_store.start()
        self.limits.start()
        self.billing_jobs.start()

    async def stop(self) -> None:
        await self.billing_jobs.stop()
        await self.inference.stages.drain()
        if self.billing_jobs.leases is not None:  # every request has settled: give the leases back
            await self.billing_jobs.settler_drain()
            await self.billing_jobs.leases.return_all()
        if self.inference.history is not None:
            await self.inference.history.drain()  # turns still being appended
        if self.inference.responses is not None:
            await self.inference.responses.drain()  # responses still being stored
        await self.limits.stop()
        await self.catalog.stop()
        await self.health_store.stop()
        await self.clients.close()
        await self.signin.close()
        if self.stripe is not None:
            await self.stripe.close()
        await self.invalidation.stop()
        await self.roles.stop()
        await self.plans.stop()
        await self.events.stop()
        await self.activity.stop()
        await self.fast_sql.close()

    async def publish(self, invalidation: Invalidation | None) -> None:
        if invalidation is not None:
            if invalidation.roles:
                await self.roles.reload()  # this process answers with the change in force
                await self.plans.reload()
            await self.invalidation.publish(
                invalidation.version, hashes=invalidation.hashes, user_id=invalidation.user_id,
                roles=invalidation.roles,
            )


def services(conn: HTTPConnection) -> Services:
    state: Any = conn.app.state
    return state.services  # type: ignore[no-any-return]
