"""Runtime settings, from the environment and an optional TOML file named by GATEWAYZ_CONFIG.

Every knob has a default that works on a laptop: SQLite under ./data, no Redis, secrets generated
on first start and kept in the data directory. Production sets DATABASE_URL, REDIS_URL and the two
secrets explicitly.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from cryptography.fernet import Fernet
from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from gatewayz.limits.config import RateLimits
from gatewayz.payments.config import DEFAULT_PACKAGES, MAX_PURCHASE_USD, CreditPackage

Environment = Literal["live", "test", "staging", "dev"]
ENVIRONMENTS: tuple[str, ...] = ("live", "test", "staging", "dev")


class SettingsError(RuntimeError):
    """The configuration cannot be used; the message says what to set."""


def _alias(name: str, *others: str) -> AliasChoices:
    return AliasChoices(f"GATEWAYZ_{name}", *others)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAYZ_", extra="ignore", populate_by_name=True)

    environment: Environment = Field("live", validation_alias=_alias("ENVIRONMENT"))
    data_dir: Path = Field(Path("./data"), validation_alias=_alias("DATA_DIR"))
    database_url: str = Field("", validation_alias=_alias("DATABASE_URL", "DATABASE_URL"))
    redis_url: str | None = Field(None, validation_alias=_alias("REDIS_URL", "REDIS_URL"))
    redis_prefix: str = Field("gatewayz", validation_alias=_alias("REDIS_PREFIX"))
    key_hash_secret: SecretStr | None = Field(None, validation_alias=_alias("KEY_HASH_SECRET"))
    encryption_keys: SecretStr | None = Field(None, validation_alias=_alias("ENCRYPTION_KEYS"))
    admin_key: SecretStr | None = Field(None, validation_alias=_alias("ADMIN_KEY"))
    admin_email: str = Field("admin@localhost", validation_alias=_alias("ADMIN_EMAIL"))

    host: str = Field("127.0.0.1", validation_alias=_alias("HOST"))
    port: int = Field(8000, validation_alias=_alias("PORT"))
    workers: int = Field(1, ge=1, validation_alias=_alias("WORKERS"))
    log_level: str = Field("info", validation_alias=_alias("LOG_LEVEL"))
    log_format: Literal["json", "console"] = Field("json", validation_alias=_alias("LOG_FORMAT"))
    access_log: bool = Field(True, validation_alias=_alias("ACCESS_LOG"))
    # comma-separated in the environment (NoDecode: not parsed as JSON), a list in the TOML file
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=_alias("TRUSTED_PROXIES")
    )

    db_pool_size: int = Field(10, ge=1, validation_alias=_alias("DB_POOL_SIZE"))
    db_max_overflow: int = Field(20, ge=0, validation_alias=_alias("DB_MAX_OVERFLOW"))
    key_cache_ttl_seconds: float = Field(60.0, ge=0, validation_alias=_alias("KEY_CACHE_TTL_SECONDS"))
    auth_poll_interval_seconds: float = Field(0.25, gt=0, validation_alias=_alias("AUTH_POLL_INTERVAL_SECONDS"))

    retry_max_retries: int = Field(2, ge=0, le=10, validation_alias=_alias("RETRY_MAX_RETRIES"))
    retry_base_delay_seconds: float = Field(0.25, ge=0, validation_alias=_alias("RETRY_BASE_DELAY_SECONDS"))
    retry_max_delay_seconds: float = Field(4.0, ge=0, validation_alias=_alias("RETRY_MAX_DELAY_SECONDS"))
    breaker_threshold: int = Field(5, ge=1, validation_alias=_alias("BREAKER_THRESHOLD"))
    breaker_cooldown_seconds: float = Field(30.0, ge=0, validation_alias=_alias("BREAKER_COOLDOWN_SECONDS"))
    # The catalog: each provider's model list is refreshed on its TTL (default, per-provider overrides as a
    # JSON object like {"openrouter": 600}); a failed refresh is retried sooner.
    catalog_refresh_seconds: float = Field(3600.0, gt=0, validation_alias=_alias("CATALOG_REFRESH_SECONDS"))
    catalog_provider_refresh_seconds: dict[str, Annotated[float, Field(gt=0)]] = Field(
        default_factory=dict, validation_alias=_alias("CATALOG_PROVIDER_REFRESH_SECONDS"))
    catalog_retry_seconds: float = Field(60.0, gt=0, validation_alias=_alias("CATALOG_RETRY_SECONDS"))

    credit_hold_ttl_seconds: float = Field(900.0, gt=0, validation_alias=_alias("CREDIT_HOLD_TTL_SECONDS"))
    provider_health_sync_seconds: float = Field(
        15.0, ge=0.05, le=3600, validation_alias=_alias("PROVIDER_HEALTH_SYNC_SECONDS"))
    credit_leases: bool = Field(True, validation_alias=_alias("CREDIT_LEASES"))
    credit_lease_ttl_seconds: float = Field(120.0, gt=0, validation_alias=_alias("CREDIT_LEASE_TTL_SECONDS"))
    credit_lease_idle_seconds: float = Field(5.0, gt=0, validation_alias=_alias("CREDIT_LEASE_IDLE_SECONDS"))
    default_max_tokens: int = Field(4096, ge=1, validation_alias=_alias("DEFAULT_MAX_TOKENS"))
    allow_unpriced_models: bool = Field(False, validation_alias=_alias("ALLOW_UNPRICED_MODELS"))
    low_balance_threshold_usd: str = Field("1.00", validation_alias=_alias("LOW_BALANCE_THRESHOLD_USD"))
    billing_job_interval_seconds: float = Field(30.0, gt=0, validation_alias=_alias("BILLING_JOB_INTERVAL_SECONDS"))
    # The most one grant by a holder of `credits.grant_small` (the `support` role) may give, in USD.
    support_max_credit_grant_usd: Decimal = Field(
        Decimal("25"), ge=0, le=100_000_000, decimal_places=9, validation_alias=_alias("SUPPORT_MAX_CREDIT_GRANT_USD"))

    # Plans and trials (plans/): the plan of a user with none, the plan a trial gives, the trial's credit,
    # length and abuse limits, and how long a subscription whose payment failed keeps its plan.
    default_plan: str = Field("free", min_length=1, max_length=64, validation_alias=_alias("DEFAULT_PLAN"))
    trial_plan: str = Field("trial", min_length=1, max_length=64, validation_alias=_alias("TRIAL_PLAN"))
    trial_credits_usd: Decimal = Field(
        Decimal("10"), ge=0, le=100_000, decimal_places=9, validation_alias=_alias("TRIAL_CREDITS_USD"))
    trial_days: float = Field(3.0, gt=0, le=365, validation_alias=_alias("TRIAL_DAYS"))
    trial_reminder_hours: float = Field(24.0, ge=0, le=8760, validation_alias=_alias("TRIAL_REMINDER_HOURS"))
    trials_per_ip_per_day: int = Field(3, ge=1, le=1_000_000, validation_alias=_alias("TRIALS_PER_IP_PER_DAY"))
    trials_per_domain_per_day: int | None = Field(
        None, ge=1, le=1_000_000, validation_alias=_alias("TRIALS_PER_DOMAIN_PER_DAY"))
    subscription_grace_days: float = Field(3.0, ge=0, le=365, validation_alias=_alias("SUBSCRIPTION_GRACE_DAYS"))
    trial_requires_verified_email: bool = Field(True, validation_alias=_alias("TRIAL_REQUIRES_VERIFIED_EMAIL"))

    # Rate limits (see limits/): JSON objects like {"requests_per_minute": 60, "models": {...}}.
    history_context_tokens: int = Field(8192, ge=256, le=10_000_000, validation_alias=_alias("HISTORY_CONTEXT_TOKENS"))
    history_margin_tokens: int = Field(256, ge=0, le=1_000_000, validation_alias=_alias("HISTORY_MARGIN_TOKENS"))
    history_answer_tokens: int = Field(1024, ge=1, le=10_000_000, validation_alias=_alias("HISTORY_ANSWER_TOKENS"))
    history_max_items: int = Field(10_000, ge=1, le=1_000_000, validation_alias=_alias("HISTORY_MAX_ITEMS"))
    history_max_item_bytes: int = Field(1_048_576, ge=1024, le=33_554_432,
                                        validation_alias=_alias("HISTORY_MAX_ITEM_BYTES"))
    history_summary_model: str | None = Field(None, validation_alias=_alias("HISTORY_SUMMARY_MODEL"))
    history_retention_days: float | None = Field(None, gt=0, validation_alias=_alias("HISTORY_RETENTION_DAYS"))
    audit_retention_days: float | None = Field(None, ge=1, validation_alias=_alias("AUDIT_RETENTION_DAYS"))
    security_event_retention_days: float | None = Field(
        None, ge=1, validation_alias=_alias("SECURITY_EVENT_RETENTION_DAYS"))
    usage_retention_days: float | None = Field(None, ge=1, validation_alias=_alias("USAGE_RETENTION_DAYS"))
    history_cache_mb: int = Field(64, ge=0, le=65_536, validation_alias=_alias("HISTORY_CACHE_MB"))
    image_url_ttl_hours: float = Field(24.0, gt=0, le=8760, validation_alias=_alias("IMAGE_URL_TTL_HOURS"))
    # Generated images in an S3-compatible bucket instead of the data directory (images/s3_store.py);
    # credentials come from boto3's chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, a role).
    image_s3_bucket: str | None = Field(None, min_length=3, max_length=63, validation_alias=_alias("IMAGE_S3_BUCKET"))
    image_s3_endpoint_url: str | None = Field(None, max_length=2000, validation_alias=_alias("IMAGE_S3_ENDPOINT_URL"))
    image_s3_region: str | None = Field(None, max_length=64, validation_alias=_alias("IMAGE_S3_REGION"))
    image_s3_prefix: str = Field("images/", max_length=256, validation_alias=_alias("IMAGE_S3_PREFIX"))
    image_s3_addressing_style: Literal["auto", "path", "virtual"] = Field(
        "auto", validation_alias=_alias("IMAGE_S3_ADDRESSING_STYLE"))

    rate_limit_global: RateLimits | None = Field(None, validation_alias=_alias("RATE_LIMIT_GLOBAL"))
    rate_limit_user: RateLimits | None = Field(None, validation_alias=_alias("RATE_LIMIT_USER"))
    rate_limit_key: RateLimits | None = Field(None, validation_alias=_alias("RATE_LIMIT_KEY"))
    rate_limit_completion_estimate: int = Field(1024, ge=1, validation_alias=_alias("RATE_LIMIT_COMPLETION_ESTIMATE"))
    rate_limit_lease_seconds: float = Field(600.0, gt=0, validation_alias=_alias("RATE_LIMIT_LEASE_SECONDS"))
    rate_limit_probe_seconds: float = Field(1.0, gt=0, validation_alias=_alias("RATE_LIMIT_PROBE_SECONDS"))

    # Sign-in (signin/): dashboard sessions, Privy, OpenID Connect providers, email + password.
    signin_password_enabled: bool = Field(True, validation_alias=_alias("SIGNIN_PASSWORD_ENABLED"))
    session_ttl_seconds: float = Field(604_800.0, ge=60, le=31_536_000, validation_alias=_alias("SESSION_TTL_SECONDS"))
    session_cookie_secure: bool = Field(True, validation_alias=_alias("SESSION_COOKIE_SECURE"))
    privy_app_id: str | None = Field(None, max_length=200, validation_alias=_alias("PRIVY_APP_ID"))
    privy_verification_key: str | None = Field(None, validation_alias=_alias("PRIVY_VERIFICATION_KEY"))
    privy_jwks_url: str | None = Field(None, validation_alias=_alias("PRIVY_JWKS_URL"))
    signin_failures_per_account: int = Field(5, ge=1, le=10_000, validation_alias=_alias("SIGNIN_FAILURES_PER_ACCOUNT"))
    signin_failures_per_ip: int = Field(50, ge=1, le=1_000_000, validation_alias=_alias("SIGNIN_FAILURES_PER_IP"))
    signin_failure_window_seconds: int = Field(
        900, ge=60, le=86_400, validation_alias=_alias("SIGNIN_FAILURE_WINDOW_SECONDS"))
    password_reset_ttl_seconds: float = Field(
        3600.0, ge=1, le=86_400, validation_alias=_alias("PASSWORD_RESET_TTL_SECONDS"))
    signin_redirect_url: str = Field("/", max_length=2000, validation_alias=_alias("SIGNIN_REDIRECT_URL"))
    public_url: str | None = Field(None, max_length=2000, validation_alias=_alias("PUBLIC_URL"))
    oidc_providers: dict[str, dict[str, Any]] = Field(default_factory=dict)

    # Stripe (payments/): keys, the webhook's signing secret, and an API base for a local fake (localstripe).
    stripe_secret_key: SecretStr | None = Field(None, validation_alias=_alias("STRIPE_SECRET_KEY"))
    stripe_webhook_secret: SecretStr | None = Field(None, validation_alias=_alias("STRIPE_WEBHOOK_SECRET"))
    stripe_api_base: str | None = Field(None, max_length=2000, validation_alias=_alias("STRIPE_API_BASE"))
    stripe_webhook_tolerance_seconds: int = Field(
        300, ge=1, le=86_400, validation_alias=_alias("STRIPE_WEBHOOK_TOLERANCE_SECONDS"))
    stripe_timeout_seconds: float = Field(20.0, gt=0, le=120, validation_alias=_alias("STRIPE_TIMEOUT_SECONDS"))
    coupon_reservation_ttl_minutes: float = Field(
        60.0, ge=0.01, le=10_080, validation_alias=_alias("COUPON_RESERVATION_TTL_MINUTES"))
    stripe_success_url: str | None = Field(None, max_length=2000, validation_alias=_alias("STRIPE_SUCCESS_URL"))
    stripe_cancel_url: str | None = Field(None, max_length=2000, validation_alias=_alias("STRIPE_CANCEL_URL"))
    # Credit packages (a JSON object of id -> {"name", "price_usd", "credits_usd"}) and custom amounts' bounds.
    credit_packages: dict[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")], CreditPackage] = Field(
        default_factory=lambda: dict(DEFAULT_PACKAGES), validation_alias=_alias("CREDIT_PACKAGES"))
    purchase_min_usd: Decimal = Field(
        Decimal("1"), ge=Decimal("0.50"), le=MAX_PURCHASE_USD, decimal_places=2,
        validation_alias=_alias("PURCHASE_MIN_USD"))
    purchase_max_usd: Decimal = Field(
        Decimal("10000"), ge=Decimal("0.50"), le=MAX_PURCHASE_USD, decimal_places=2,
        validation_alias=_alias("PURCHASE_MAX_USD"))

    # Referrals (promotions/referrals.py): both sides' rewards on the referred user's first qualifying purchase.
    referral_referrer_reward_usd: Decimal = Field(
        Decimal("5"), ge=0, le=MAX_PURCHASE_USD, decimal_places=9,
        validation_alias=_alias("REFERRAL_REFERRER_REWARD_USD"))
    referral_referred_reward_usd: Decimal = Field(
        Decimal("5"), ge=0, le=MAX_PURCHASE_USD, decimal_places=9,
        validation_alias=_alias("REFERRAL_REFERRED_REWARD_USD"))
    referral_min_purchase_usd: Decimal = Field(
        Decimal("10"), ge=0, le=MAX_PURCHASE_USD, decimal_places=2,
        validation_alias=_alias("REFERRAL_MIN_PURCHASE_USD"))
    referral_apply_window_days: float = Field(
        7.0, gt=0, le=3650, validation_alias=_alias("REFERRAL_APPLY_WINDOW_DAYS"))
    referral_signup_url: str | None = Field(None, max_length=2000, validation_alias=_alias("REFERRAL_SIGNUP_URL"))

    providers: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("GATEWAYZ_CONFIG")
        if config_file:
            if not Path(config_file).is_file():
                raise SettingsError(f"GATEWAYZ_CONFIG names {config_file!r}, which is not a file")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_csv(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError as exc:
                raise ValueError(f"GATEWAYZ_TRUSTED_PROXIES: {entry!r} is not an IP address or CIDR") from exc
        return value

    @field_validator("environment", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    # -- derived values -------------------------------------------------------------------------

    @cached_property
    def sqlalchemy_url(self) -> str:
        """DATABASE_URL with the async driver filled in (users write plain postgresql:// URLs)."""
        url = self.database_url or f"sqlite:///{self.data_dir / 'gatewayz.db'}"
        for plain, async_form in (
            ("postgres://", "postgresql+asyncpg://"),
            ("postgresql://", "postgresql+asyncpg://"),
            ("sqlite://", "sqlite+aiosqlite://"),
        ):
            if url.startswith(plain):
                return async_form + url[len(plain) :]
        return url

    @property
    def is_sqlite(self) -> bool:
        return self.sqlalchemy_url.startswith("sqlite")

    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        rest = self.sqlalchemy_url.split(":///", 1)[1] if ":///" in self.sqlalchemy_url else ""
        return None if rest in ("", ":memory:") else Path(rest)

    @cached_property
    def _generated_secrets(self) -> dict[str, str]:
        """Secrets generated once and kept in the data directory, for laptops and tests.

        A live deployment on a shared database must set them explicitly: replicas that each
        generated their own hashing secret could not read each other's keys.
        """
        if self.environment == "live" and not self.is_sqlite:
            raise SettingsError(
                "GATEWAYZ_KEY_HASH_SECRET and GATEWAYZ_ENCRYPTION_KEYS must be set when "
                "GATEWAYZ_ENVIRONMENT=live and the database is not SQLite"
            )
        path = self.data_dir / "secrets.json"
        if path.is_file():
            return dict(json.loads(path.read_text()))
        if not self.data_dir.exists():
            self.data_dir.mkdir(parents=True, mode=0o700)
        values = {
            "key_hash_secret": secrets.token_urlsafe(48),
            "encryption_key": Fernet.generate_key().decode(),
        }
        # Write a private temp file, then link it into place: two processes starting at once
        # agree on whichever secret file landed first.
        tmp = path.with_name(f".secrets.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(values, handle)
        try:
            os.link(tmp, path)
        except FileExistsError:
            values = dict(json.loads(path.read_text()))
        finally:
            tmp.unlink()
        return values

    @cached_property
    def key_hash_secret_bytes(self) -> bytes:
        if self.key_hash_secret is not None:
            return self.key_hash_secret.get_secret_value().encode()
        return self._generated_secrets["key_hash_secret"].encode()

    @cached_property
    def encryption_key_list(self) -> list[str]:
        if self.encryption_keys is not None:
            keys = [k.strip() for k in self.encryption_keys.get_secret_value().split(",") if k.strip()]
            if keys:
                return keys
        return [self._generated_secrets["encryption_key"]]


def load_settings(**overrides: Any) -> Settings:
    try:
        return Settings(**overrides)
    except SettingsError:
        raise
    except ValueError as exc:  # pydantic's ValidationError: name the offending setting plainly
        raise SettingsError(str(exc)) from exc
