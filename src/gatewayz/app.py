"""create_app(settings) -> FastAPI: wires routers, error handlers and the lifespan."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from gatewayz import __version__
from gatewayz.accounts.admin_routes import router as admin_router
from gatewayz.accounts.routes import router as keys_router
from gatewayz.billing.routes import router as billing_router
from gatewayz.errors import install_error_handlers
from gatewayz.health.routes import router as health_router
from gatewayz.inference.routes import router as inference_router
from gatewayz.limits.routes import router as limits_router
from gatewayz.logconfig import configure_logging
from gatewayz.middleware import RequestIdMiddleware
from gatewayz.services import Services
from gatewayz.settings import Settings, load_settings
from gatewayz.storage.db import Database
from gatewayz.storage.migrate import migrate
from gatewayz.storage.redis_client import create_redis


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
        await svc.open()
        try:
            yield
        finally:
            await svc.stop()
            if redis is not None:
                await redis.aclose()
            await db.close()

    app = FastAPI(
        title="Gatewayz",
        version=__version__,
        description="An OpenAI- and Anthropic-compatible AI gateway.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(health_router)
    app.include_router(inference_router)
    app.include_router(keys_router)
    app.include_router(admin_router)
    app.include_router(billing_router)
    app.include_router(limits_router)
    app.add_middleware(RequestIdMiddleware)
    return app


def app_factory() -> FastAPI:
    """For `uvicorn --factory` worker processes: settings come from the environment."""
    return create_app(run_migrations=False)
