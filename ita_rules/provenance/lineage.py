"""OpenLineage run events built from a run's snapshot (docs/architecture.md#lineage).

Pure functions: a snapshot (and the records of its outputs) in, one RunEvent (spec 2-0-2) as a
plain dict out; nothing here imports the ``openlineage-python`` client (the live emitter,
:mod:`ita_rules.provenance.lineage_emit`, sends these dicts with it).

* ``run.runId`` = ``uuid5(NAMESPACE_URL, "ita-rules://{namespace}/{run_id}")``: stable, so every
  event of a run and every later export name the same run.
* ``job.namespace`` = ``lineage.namespace`` of ``ita.toml``; ``job.name`` =
  ``{flow_type}.{setup_id}`` (the flow type alone for a run without a rule).
* Inputs: namespace ``file``, name the absolute path (the OpenLineage naming of a local file;
  ``s3://bucket`` and the key when the content has a verified copy on an S3 remote),
  ``version`` = the input's data hash (the range hash when the run read a range), and the
  range as an input ``subset`` facet (``time >= first AND time <= last``).
* Outputs: the stored file (namespace ``file``, absolute path), ``version`` = its SHA-256,
  ``datasetType`` = its store type; a purged output carries ``lifecycleStateChange`` DROP.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SPEC_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
EVENT_SCHEMA_URL = f"{SPEC_URL}#/$defs/RunEvent"
FACETS_URL = "https://openlineage.io/spec/facets"
# The custom facet's schema ships as schemas/openlineage_itaRules_rule-1-0-0.json. The URL is
# immutable: a change to the facet is a new file with a new version (tests pin the bytes).
RULE_FACET = "itaRules_rule"
RULE_FACET_FILE = "openlineage_itaRules_rule-1-0-0.json"
RULE_FACET_URL = "urn:ita-rules:schema:openlineage:itaRules_rule:1-0-0#/$defs/ItaRulesRuleRunFacet"
EVENT_TYPES = {"running": "START", "succeeded": "COMPLETE", "failed": "FAIL", "abandoned": "ABORT"}
STREAMING_FLOWS = frozenset({"live_flow"})
_SCHEMAS = {
    "sourceCodeLocation": "1-1-0/SourceCodeLocationJobFacet.json",
    "jobType": "2-0-4/JobTypeJobFacet.json",
    "parent": "1-2-0/ParentRunFacet.json",
    "processing_engine": "1-1-1/ProcessingEngineRunFacet.json",
    "errorMessage": "1-0-1/ErrorMessageRunFacet.json",
    "version": "1-0-1/DatasetVersionDatasetFacet.json",
    "datasetType": "1-0-1/DatasetTypeDatasetFacet.json",
    "lifecycleStateChange": "1-0-1/LifecycleStateChangeDatasetFacet.json",
    "subset": "1-0-0/BaseSubsetDatasetFacet.json",
}
_DEFS = {
    "subset": "InputSubsetInputDatasetFacet",
    "version": "DatasetVersionDatasetFacet",
}


Names = Mapping[str, tuple[str, str]]  # content hash -> (namespace, name)


@dataclass(frozen=True)
class Output:
    """A stored output of a run, as an event names it."""

    path: Path  # absolute
    hash: str  # "sha256:..."
    type: str
    purged: bool = False


def producer(version: str) -> str:
    return f"https://pypi.org/project/ita-rules/{version}/"


def run_uuid(namespace: str, run_id: str) -> str:
    """The OpenLineage runId of one of our runs (stable; see the module docstring)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"ita-rules://{namespace}/{run_id}"))


def job_name(snapshot: Mapping[str, Any]) -> str:
    setup = snapshot.get("rule_id")
    return f"{snapshot['flow_type']}.{setup}" if setup else str(snapshot["flow_type"])


def facet(name: str, version: str, /, **fields: Any) -> dict[str, Any]:
    """A standard facet with its ``_producer`` and its schema's ``_schemaURL``."""
    schema = _SCHEMAS[name]
    title = _DEFS.get(name, schema.rsplit("/", 1)[1].removesuffix(".json"))
    url = f"{FACETS_URL}/{schema}#/$defs/{title}"
    return {"_producer": producer(version), "_schemaURL": url, **fields}


def event_type(status: str) -> str:
    """START for a running run, COMPLETE / FAIL / ABORT (abandoned) for an ended one."""
    return EVENT_TYPES[status]


def run_event(
    snapshot: Mapping[str, Any],
    *,
    namespace: str,
    root: Path,
    outputs: Sequence[Output] = (),
    status: str | None = None,
    names: Names | None = None,
) -> dict[str, Any]:
    """The RunEvent of ``snapshot`` in state ``status`` (its own status by default); ``names``
    gives the S3 name of a content hash with a verified remote copy (else ``file`` naming)."""
    names = names or {}
    state = event_type(status or str(snapshot["status"]))
    version = str(snapshot.get("ita_rules_version") or "0")
    moment = snapshot["started_at"] if state == "START" else snapshot.get("finished_at")
    event: dict[str, Any] = {
        "eventType": state,
        "eventTime": moment or snapshot["started_at"],
        "producer": producer(version),
        "schemaURL": EVENT_SCHEMA_URL,
        "run": {
            "runId": run_uuid(namespace, str(snapshot["run_id"])),
            "facets": run_facets(snapshot, namespace, version, state),
        },
        "job": {
            "namespace": namespace,
            "name": job_name(snapshot),
            "facets": job_facets(snapshot, root, version),
        },
        "inputs": [
            input_dataset(entry, snapshot, root, version, names) for entry in _inputs(snapshot)
        ],
        "outputs": [output_dataset(out, version, names) for out in outputs],
    }
    return event


def _inputs(snapshot: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    return list(snapshot.get("inputs") or [])


def run_facets(
    snapshot: Mapping[str, Any], namespace: str, version: str, state: str
) -> dict[str, Any]:
    facets: dict[str, Any] = {
        "processing_engine": facet("processing_engine", version, version=version, name="ita-rules"),
    }
    if snapshot.get("flow_run_id"):
        parent_id = str(snapshot["flow_run_id"])
        try:
            parent_uuid = str(uuid.UUID(parent_id))
        except ValueError:
            parent_uuid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"prefect://{parent_id}"))
        facets["parent"] = facet(
            "parent",
            version,
            run={"runId": parent_uuid},
            job={"namespace": namespace, "name": str(snapshot.get("flow_name") or "flow")},
        )
    if state in ("FAIL", "ABORT") and snapshot.get("error"):
        facets["errorMessage"] = facet(
            "errorMessage", version, message=str(snapshot["error"]), programmingLanguage="PYTHON"
        )
    if snapshot.get("rule_id"):
        rule = {
            "_producer": producer(version),
            "_schemaURL": RULE_FACET_URL,
            "setup_id": snapshot["rule_id"],
            "rule_version": snapshot["rule_version"],
            "params_hash": snapshot["params_hash"],
            "rule_blob": snapshot.get("rule_blob"),
            "git_dirty": bool(snapshot.get("git_dirty")),
            "diff_hash": snapshot.get("git_diff_hash"),
        }
        # absent rather than null: OpenLineage clients drop nulls on the way out
        facets[RULE_FACET] = {k: v for k, v in rule.items() if v is not None}
    return facets


def job_facets(snapshot: Mapping[str, Any], root: Path, version: str) -> dict[str, Any]:
    streaming = snapshot["flow_type"] in STREAMING_FLOWS
    facets: dict[str, Any] = {
        "jobType": facet(
            "jobType",
            version,
            processingType="STREAMING" if streaming else "BATCH",
            integration="ITA_RULES",
            jobType="FLOW",
        ),
    }
    commit = snapshot.get("git_commit")
    if commit:
        path = str(snapshot.get("rule_path") or "")
        location: dict[str, Any] = {
            "type": "git",
            "url": (root / path).resolve().as_uri() if path else root.resolve().as_uri(),
            "version": commit,
        }
        if path:
            location["path"] = path
        if snapshot.get("git_branch"):
            location["branch"] = snapshot["git_branch"]
        facets["sourceCodeLocation"] = facet("sourceCodeLocation", version, **location)
    return facets


def input_dataset(
    entry: Mapping[str, Any],
    snapshot: Mapping[str, Any],
    root: Path,
    version: str,
    names: Names | None = None,
) -> dict[str, Any]:
    path = Path(str(entry["path"]))
    absolute = path if path.is_absolute() else (root / path)
    data_hash = entry.get("range_hash") or entry["hash"]
    namespace, name = (names or {}).get(entry["hash"], ("file", absolute.resolve().as_posix()))
    dataset: dict[str, Any] = {
        "namespace": namespace,
        "name": name,
        "facets": {"version": facet("version", version, datasetVersion=data_hash)},
    }
    first, last = entry.get("first"), entry.get("last")
    if snapshot.get("data_range") and first and last:
        column = str(entry.get("time_column") or "time")
        dataset["inputFacets"] = {
            "subset": facet(
                "subset",
                version,
                inputCondition={
                    "type": "binary",
                    "operator": "AND",
                    "left": _compare(column, "GREATER_EQUAL_THAN", str(first)),
                    "right": _compare(column, "LESS_EQUAL_THAN", str(last)),
                },
            )
        }
    return dataset


def _compare(column: str, comparison: str, value: str) -> dict[str, Any]:
    return {
        "type": "compare",
        "left": {"type": "field", "field": column},
        "right": {"type": "literal", "value": value},
        "comparison": comparison,
    }


def output_dataset(out: Output, version: str, names: Names | None = None) -> dict[str, Any]:
    facets: dict[str, Any] = {
        "version": facet("version", version, datasetVersion=out.hash),
        "datasetType": facet("datasetType", version, datasetType="FILE", subType=out.type),
    }
    if out.purged:
        facets["lifecycleStateChange"] = facet(
            "lifecycleStateChange", version, lifecycleStateChange="DROP"
        )
    namespace, name = (names or {}).get(out.hash, ("file", out.path.as_posix()))
    return {"namespace": namespace, "name": name, "facets": facets}


def drop_event(
    snapshot: Mapping[str, Any],
    purged: Sequence[Output],
    *,
    namespace: str,
    moment: str,
    names: Names | None = None,
) -> dict[str, Any]:
    """An OTHER event of the run that wrote ``purged``: those outputs, each with
    ``lifecycleStateChange`` DROP (retention purged them at ``moment``)."""
    version = str(snapshot.get("ita_rules_version") or "0")
    dropped = [Output(o.path, o.hash, o.type, purged=True) for o in purged]
    return {
        "eventType": "OTHER",
        "eventTime": moment,
        "producer": producer(version),
        "schemaURL": EVENT_SCHEMA_URL,
        "run": {"runId": run_uuid(namespace, str(snapshot["run_id"]))},
        "job": {"namespace": namespace, "name": job_name(snapshot)},
        "outputs": [output_dataset(out, version, names) for out in dropped],
    }
