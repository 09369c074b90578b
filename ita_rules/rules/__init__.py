"""The rule & version registry: model, loading, authoring, registry
(docs/architecture.md#rule-files)."""
