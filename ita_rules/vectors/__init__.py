"""Embeddings in a vector store (Chroma), pruned by retention with the files' protections
(docs/architecture.md#vectors).

A vector is named in retention's decisions and audit log as ``vector:COLLECTION/ID``
(:func:`ids.file_id`). This package sits at the retention layer: it reuses retention's
protections and plan, and retention's verbs call it for the ``embedding`` type. Importing it
imports no chromadb: only opening the store does (:mod:`ita_rules.provenance.vectorstore`).
"""
