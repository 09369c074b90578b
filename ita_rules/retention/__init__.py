"""Retention policies, the purge plan, soft delete, sweep and notifications
(docs/architecture.md#retention)."""
