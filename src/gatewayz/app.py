"""create_app(settings) -> FastAPI: wires routers, error handlers and the lifespan."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from gatewayz import __version__
from gatewayz.accounts.admin_routes import router as admin_router
from gatewayz.accounts.privacy_routes import router as privacy_router
from gatewayz.accounts.role_routes import router as roles_router
from gatewayz.accounts.routes import router as keys_router
from gatewayz.audit.compliance import router as compliance_router
from gatewayz.audit.routes import router as audit_router
from gatewayz.billing.routes import router as billing_router
from gatewayz.catalog.ranking_routes import router as ranking_router
from gatewayz.catalog.routes import attach_catalog_store
from gatewayz.catalog.routes import router as catalog_router
from gatewayz.errors import install_error_handlers
from gatewayz.health.routes import router as health_router
from gatewayz.history.routes import router as history_router
from gatewayz.http.access_log import AccessLogMiddleware, access_log_enabled
from gatewayz.http.bodylimit import BodyLimitMiddleware
from gatewayz.http.docs import router as docs_router
from gatewayz.http.early_auth import EarlyAuthMiddleware
from gatewayz.http.hot_path import GatewayApp
from gatewayz.http.openapi import install_openapi
from gatewayz.http.routing import TrailingSlashMiddleware, install_routing_handlers
from gatewayz.images.routes import router as images_router
from gatewayz.inference.routes import HOT_ROUTES
from gatewayz.inference.routes import router as inference_router
from gatewayz.limits.routes import router as limits_router
from gatewayz.logconfig import configure_logging, level_number
from gatewayz.middleware import RequestIdMiddleware
from gatewayz.payments.admin_routes import router as payments_admin_router
from gatewayz.payments.routes import router as payments_router
from gatewayz.payments.webhook_route import router as stripe_webhook_router
from gatewayz.plans.routes import router as plans_router
from gatewayz.plans.subscription_routes import router as subscriptions_router
from gatewayz.plans.trial_routes import router as trials_router
from gatewayz.promotions.coupon_admin import router as coupon_admin_router
from gatewayz.promotions.coupon_routes import router as coupon_router
from gatewayz.promotions.referral_routes import router as referral_router
from gatewayz.services import Services
from gatewayz.settings import Settings, load_settings
from gatewayz.signin.routes_account import router as account_router
from gatewayz.signin.routes_oidc import router as oidc_router
from gatewayz.signin.routes_password import router as password_router
from gatewayz.signin.routes_sessions import router as sessions_router
from gatewayz.signin.routes_tokens import router as signin_tokens_router
from gatewayz.storage.db import Database
from gatewayz.storage.migrate import migrate
from gatewayz.storage.redis_client import create_redis
from gatewayz.teams.routes import router as teams_router
from gatewayz.teams.routes_access import router as team_access_router
from gatewayz.teams.routes_billing import router as team_billing_router


def create_app(settings: Settings | None = None, *, run_migrations: bool = True) -> FastAPI:
    settings = settings or load_settings()
    configure_logging(settings.log_level, settings.log_format)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings)
        if run_migrations:
            await migrate(db.engine, settings)
        redis = create_redis(settings)
        svc = Services.build(settings, db, redis, started_at=time.monotonic())
        app.state.services = svc
        attach_catalog_store(svc)
        await svc.open()
        try:
            yield
        finally:
            await svc.stop()
            if redis is not None:
                await redis.aclose()
            await db.close()

    app = GatewayApp(
        title="Gatewayz",
        version=__version__,
        description="An OpenAI- and Anthropic-compatible AI gateway.",
        lifespan=lifespan,
        docs_url=None,  # served by http/docs.py from the package, not from a CDN
        redoc_url=None,
        redirect_slashes=False,  # http/routing.py serves `/path/` as `/path` instead
    )
    install_error_handlers(app)
    install_routing_handlers(app)
    app.include_router(health_router)
    app.include_router(docs_router)
    app.include_router(catalog_router)  # before inference's: it serves the extended GET /v1/models
    app.include_router(ranking_router)
    app.include_router(inference_router)
    app.include_router(images_router)
    app.include_router(history_router)
    app.include_router(keys_router)
    app.include_router(admin_router)
    app.include_router(roles_router)
    app.include_router(audit_router)
    app.include_router(privacy_router)
    app.include_router(compliance_router)
    app.include_router(billing_router)
    app.include_router(limits_router)
    app.include_router(plans_router)
    app.include_router(payments_router)
    app.include_router(stripe_webhook_router)
    app.include_router(payments_admin_router)
    app.include_router(coupon_router)
    app.include_router(coupon_admin_router)
    app.include_router(referral_router)
    app.include_router(team_access_router)  # first: /teams/invitations/accept
    app.include_router(teams_router)
    app.include_router(team_billing_router)
    app.include_router(trials_router)
    app.include_router(subscriptions_router)
    for signin_router in (signin_tokens_router, oidc_router, password_router, sessions_router,
                          account_router):
        app.include_router(signin_router)
    install_openapi(app)
    # Pure-ASGI layers; the last added runs first: slash, request id, access log, body cap, auth.
    app.add_middleware(EarlyAuthMiddleware)
    app.add_middleware(BodyLimitMiddleware)
    access_log = access_log_enabled(settings) and level_number(settings.log_level) <= logging.INFO
    if access_log:
        app.add_middleware(AccessLogMiddleware)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(TrailingSlashMiddleware)
    # POST to the inference endpoints skips all of the above for one lean path (http/hot_path.py).
    app.serve_hot(HOT_ROUTES, access_log=access_log)
    return app


def app_factory() -> FastAPI:
    """For `uvicorn --factory` worker processes: settings come from the environment."""
    return create_app(run_migrations=False)
