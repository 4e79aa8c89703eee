"""Audit: security events and (later) the audit log and analytics."""
