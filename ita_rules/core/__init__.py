"""The lowest layer: errors, findings and their reporters, YAML, canonical JSON, configuration,
files, git, progress and schema checks. Nothing here imports a package above it."""
