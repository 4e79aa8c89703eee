"""Plans and subscriptions, entitlements, free trials."""
