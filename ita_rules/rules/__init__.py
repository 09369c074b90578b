"""Seed 2.3.2: the rule & version registry (model, loading, authoring, registry)."""
