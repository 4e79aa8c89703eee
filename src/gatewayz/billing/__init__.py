"""Billing: pricing, the credit ledger (holds, settlement, grants, refunds), usage, idempotency."""
