"""Promotions: coupons (discounts and bonus credits at checkout, free credits on redemption) and
referrals (a code per user; both sides rewarded on the referred user's first qualifying purchase).
Every credit they give goes through the ledger (billing/ledger.py), exactly once."""
