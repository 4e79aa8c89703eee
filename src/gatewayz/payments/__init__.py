"""Stripe payments: credit purchases (Checkout and payment intents), the signed webhook, refunds.

Money reaches the ledger (billing/ledger.py) exactly once per payment, whichever of Stripe's events
about it arrives first; other domains hook in through `webhooks.register` (more event types) and
`hooks.subscribe` (a purchase's credit grant, in its transaction).
"""
