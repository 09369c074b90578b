"""The desk's view: a static, self-contained report site (registry, setups, runs, storage),
written from the library and opened from ``file://`` (docs/architecture.md#report)."""
