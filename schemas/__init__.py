"""The JSON Schemas of ita-rules, shipped inside the package as ``ita_rules.schemas``."""
