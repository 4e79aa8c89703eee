"""Sign-in: Privy, OpenID Connect, email + password (with TOTP), and dashboard sessions."""
