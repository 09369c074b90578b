"""Seed 2.3.4: retention policies, the purge plan, soft delete, sweep and notifications."""
