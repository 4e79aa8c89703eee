"""Accounts: users, roles, API keys and authentication."""
