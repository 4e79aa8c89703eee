"""Migration 0009: the role tables, and every existing admin (users.role = 'admin') given the
built-in `admin` role; down and up again cleanly."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gatewayz.storage.migrate import head_revision
from tests.support.databases import run_sql, session_database
from tests.support.store_env import schema_after

LATER: set[str] = {"signin_identities", "signin_passwords", "signin_password_resets", "signin_totp",  # 0011
                   "signin_recovery_codes", "signin_sessions",
                   "plans", "plan_subscriptions", "plan_credit_grants", "trials", "trial_quotas",  # 0012
                   "stripe_events", "payments", "payment_refunds",  # 0013
                   "cap_spend", "teams", "team_members", "team_invitations", "team_keys",  # 0014
                   "coupons", "coupon_redemptions", "referral_codes", "referrals"}  # 0017; all after 0009


@pytest.fixture
def empty_url(tmp_path: Path) -> Iterator[str]:
    with session_database(tmp_path) as url:
        yield url


def _tables(differences: list[object]) -> set[str]:
    return {d[1].name if d[0] == "add_table" else d[1].table.name for d in differences  # type: ignore[index]
            if d[0] != "add_column"}  # type: ignore[index]  # 0010 adds a column: usage_records.images


async def test_migration_0009_gives_admins_the_admin_role(empty_url: str, tmp_path: Path) -> None:
    await schema_after(empty_url, tmp_path, ("upgrade", "0008"))
    now = datetime(2026, 12, 1, tzinfo=UTC)
    for email, role in (("old-admin@example.com", "admin"), ("old-user@example.com", "user")):
        await asyncio.to_thread(run_sql, empty_url, "INSERT INTO users (email, role, is_active, created_at,"
                                " updated_at) VALUES (:p0, :p1, :p2, :p3, :p3)", email, role, True, now)
    differences, revision, _ = await schema_after(empty_url, tmp_path, ("upgrade", "head"))
    assert differences == [] and revision == head_revision()
    held = await asyncio.to_thread(
        run_sql, empty_url, "SELECT u.email, r.role FROM user_roles r JOIN users u ON u.id = r.user_id")
    assert held == [("old-admin@example.com", "admin")]

    differences, revision, _ = await schema_after(empty_url, tmp_path, ("downgrade", "0008"))
    assert revision == "0008"
    assert _tables(differences) - LATER == {"roles", "user_roles", "audit_records"}
    assert {d[0] for d in differences if _tables([d]) - LATER} == {"add_table", "add_index"}
    differences, revision, _ = await schema_after(empty_url, tmp_path, ("upgrade", "head"))
    assert differences == [] and revision == head_revision()
