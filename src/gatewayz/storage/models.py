"""Imports every domain's tables so the shared metadata is complete (migrations, checks)."""

from gatewayz.accounts import tables as accounts_tables
from gatewayz.audit import tables as audit_tables
from gatewayz.billing import tables as billing_tables
from gatewayz.catalog import tables as catalog_tables
from gatewayz.history import tables as history_tables
from gatewayz.payments import tables as payments_tables
from gatewayz.plans import tables as plans_tables
from gatewayz.promotions import tables as promotions_tables
from gatewayz.providers import tables as providers_tables
from gatewayz.signin import tables as signin_tables
from gatewayz.storage import tables as storage_tables
from gatewayz.storage.types import Base
from gatewayz.teams import tables as teams_tables

metadata = Base.metadata

__all__ = [
    "accounts_tables", "audit_tables", "billing_tables", "catalog_tables", "history_tables", "metadata",
    "payments_tables", "plans_tables", "promotions_tables", "providers_tables", "signin_tables",
    "storage_tables", "teams_tables",
]
