"""The SQL of credit holds and settlement (billing/holds.py runs it): plain statements on the lean
path (storage/fastsql.py), the same on SQLite and PostgreSQL unless named for one of them."""

from __future__ import annotations

HOLD = (
    "UPDATE credit_accounts SET held = held + :amount "
    "WHERE user_id = :user_id AND balance - held - expired_pending >= :amount"
)
SPEND_ROW = (
    "INSERT INTO key_spend (key_id, period_start, spent, held) VALUES (:key_id, :start, 0, 0) ON CONFLICT DO NOTHING"
)
SPEND_HOLD = (
    "UPDATE key_spend SET held = held + :amount WHERE key_id = :key_id AND period_start = :start "
    "AND spent + held + :amount <= :limit"
)
# a cap shared by keys: the same guard as a key's budget (one conditional UPDATE), on its own table
CAP_ROW = (
    "INSERT INTO cap_spend (cap_id, period_start, spent, held) VALUES (:cap_id, :start, 0, 0) ON CONFLICT DO NOTHING"
)
CAP_HOLD = (
    "UPDATE cap_spend SET held = held + :amount WHERE cap_id = :cap_id AND period_start = :start "
    "AND spent + held + :amount <= :limit"
)
CAP_RELEASE = "UPDATE cap_spend SET held = held - :release WHERE cap_id = :cap_id AND period_start = :start"
HOLD_ROW = (
    "INSERT INTO credit_holds (request_id, user_id, key_id, amount, key_period_start, cap_id, cap_period_start, "
    "status, created_at, expires_at) VALUES (:request_id, :user_id, :key_id, :amount, :start, :cap_id, :cap_start, "
    "'held', :now, :expires) RETURNING id"
)
CLOSE_HOLD = "UPDATE credit_holds SET status = :status WHERE id = :id AND status = 'held'"
# what is left of it: a lease's amount falls with every charge taken from it (see leases.py)
CLOSE_HOLD_LEFT = "UPDATE credit_holds SET status = :status WHERE id = :id AND status = 'held' RETURNING amount"
EXTEND_HOLDS = "UPDATE credit_holds SET expires_at = :expires WHERE status = 'held' AND id IN ({ids})"
ACCOUNT_ROW = (
    "INSERT INTO credit_accounts (user_id, balance, held, expiring, updated_at) "
    "VALUES (:user_id, 0, 0, 0, :now) ON CONFLICT DO NOTHING"
)
UNHOLD = (
    "UPDATE credit_accounts SET held = held - :release, updated_at = :now WHERE user_id = :user_id "
    "RETURNING balance, held, low_balance_threshold"
)
CHARGE = (
    "UPDATE credit_accounts SET balance = balance - :charged, "
    "expiring = CASE WHEN expiring < :charged THEN 0 ELSE expiring - :charged END WHERE user_id = :user_id"
)
ENTRY = (
    "INSERT INTO credit_transactions (user_id, type, amount, balance_before, balance_after, reference, "
    "created_at) VALUES (:user_id, 'usage', :amount, :before, :after, :reference, :now)"
)
SPEND_RELEASE = "UPDATE key_spend SET held = held - :release WHERE key_id = :key_id AND period_start = :start"
# settling under a limit: release first (locking the row), read what is left, then add the charge
SPEND_UNHOLD = SPEND_RELEASE + " RETURNING spent, held"
SPEND_CHARGE = "UPDATE key_spend SET spent = spent + :charged WHERE key_id = :key_id AND period_start = :start"
CAP_UNHOLD = CAP_RELEASE + " RETURNING spent, held"
CAP_CHARGE = "UPDATE cap_spend SET spent = spent + :charged WHERE cap_id = :cap_id AND period_start = :start"
USAGE_COLUMNS = (
    "request_id",
    "client_request_id",
    "user_id",
    "key_id",
    "endpoint",
    "provider",
    "model",
    "upstream_model",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "cost",
    "uncollected",
    "estimated",
    "stream",
    "status",
    "latency_ms",
    "ttft_ms",
    "images",
    "created_at",
)
USAGE = (
    f"INSERT INTO usage_records ({', '.join(USAGE_COLUMNS)}) VALUES ({', '.join(':' + c for c in USAGE_COLUMNS)})"
)
LOW_BALANCE = {
    "sqlite": (
        "INSERT INTO billing_events (user_id, type, data, created_at) VALUES (:user_id, 'low_balance', :data, :now)"
    ),
    "postgresql": (
        "INSERT INTO billing_events (user_id, type, data, created_at) "
        "VALUES (:user_id, 'low_balance', CAST(:data AS JSONB), :now)"
    ),
}


# PostgreSQL runs the common cases as ONE statement (data-modifying CTEs): one round trip, and the
# account row is locked only for the statement's own duration.
PG_HOLD = (
    "WITH acct AS (UPDATE credit_accounts SET held = held + :amount "
    "WHERE user_id = :user_id AND balance - held - expired_pending >= :amount RETURNING user_id) "
    "INSERT INTO credit_holds (request_id, user_id, key_id, amount, key_period_start, status, created_at, "
    "expires_at) SELECT :request_id, user_id, :key_id, :amount, NULL, 'held', :now, :expires FROM acct RETURNING id"
)
PG_SETTLE = (
    "WITH h AS (UPDATE credit_holds SET status = 'settled' WHERE id = :hold_id AND status = 'held' RETURNING amount), "
    "a AS (UPDATE credit_accounts SET held = held - :release, balance = balance - :cost, "
    "expiring = CASE WHEN expiring < :cost THEN 0 ELSE expiring - :cost END, updated_at = :created_at "
    "WHERE user_id = :user_id AND EXISTS (SELECT 1 FROM h) RETURNING balance, low_balance_threshold), "
    "e AS (INSERT INTO credit_transactions (user_id, type, amount, balance_before, balance_after, reference, "
    "created_at) SELECT :user_id, 'usage', -CAST(:cost AS BIGINT), balance + :cost, balance, :request_id, "
    "CAST(:created_at AS TIMESTAMPTZ) FROM a WHERE CAST(:cost AS BIGINT) > 0), "
    f"u AS (INSERT INTO usage_records ({', '.join(USAGE_COLUMNS)}) "
    f"SELECT {', '.join(':' + c for c in USAGE_COLUMNS)} FROM a) "
    "SELECT balance, low_balance_threshold FROM a"
)
