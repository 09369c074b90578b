"""Generated validators: see ita_rules/core/schemagen.py."""
