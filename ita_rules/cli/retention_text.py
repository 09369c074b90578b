"""How the ``retention`` verbs print in text: the report of apply, sweep and purge, and
``retention status``."""

from __future__ import annotations

from typing import Any


def report_lines(doc: dict[str, Any]) -> list[str]:
    phase, window = doc["phase"], doc["safety_window_days"]
    log = f"; audit log {doc['audit_log_path']}" if doc["audit_log_path"] else ""
    if doc["audit_log_path"] is None:
        if phase == "apply":
            return ["apply: nothing to soft-delete"]
        if phase == "sweep" and doc["kept"]:  # kept only: nothing done, nothing written
            return [
                f"sweep: nothing removed; {len(doc['kept'])} record(s) soft-deleted {window} "
                "day(s) ago or more kept",
                *(f"  {k['file_id']}: kept: {k['reason']}" for k in doc["kept"]),
            ]
        if phase == "sweep":
            return [f"sweep: nothing was soft-deleted {window} day(s) ago or more; nothing removed"]
        return [f"{phase}: nothing purged"]
    if phase == "apply":
        soft = doc["records_soft_deleted"]
        head = (
            f"apply: {soft} record(s) soft-deleted, their files stay on disk for the "
            f"{window}-day safety window"
            if soft
            else "apply: nothing to soft-delete"
        )
        if doc.get("records_restored"):
            head += (
                f"; {doc['records_restored']} soft-deleted record(s) protected again restored "
                "to live"
            )
        head += log
    else:
        freed = doc["freed_bytes"]
        size = f"{freed} bytes" + (f" ({freed / 1024**3:.3f} GB)" if freed >= 1024**2 else "")
        head = (
            f"{phase}: {doc['records_purged']} record(s) purged, "
            f"{doc['total_files_purged']} file(s) removed from disk, {size} freed{log}"
        )
    lines = [head, *(f"  {type_}: {n}" for type_, n in doc["by_type"].items())]
    if doc.get("affected_vector_ids"):  # counted apart from files: no disk space is freed
        done = "soft-deleted" if phase == "apply" else "deleted from the vector store"
        lines.append(f"  vectors: {len(doc['affected_vector_ids'])} {done}")
    lines += [
        f"  {c['file_id']}: record purged, content kept: shared with {c['shared_with']}"
        for c in doc["content_kept"]
    ]
    lines += [f"  {k['file_id']}: kept: {k['reason']}" for k in doc["kept"]]
    lines += [f"  {k['file_id']}: restored: {k['reason']}" for k in doc.get("restored", ())]
    if doc["report_path"]:
        lines.append(f"  report {doc['report_path']}")
    return lines


def status_lines(doc: dict[str, Any]) -> list[str]:
    if not doc["soft_deleted"]:
        return [
            "nothing is soft-deleted: `ita-rules retention plan` shows what apply would soft-delete"
        ]
    waiting = len(doc["waiting_for_remote_copy"])
    remote = doc["remote"] or "the remote: none is configured (remote.name)"
    lines = [
        f"{doc['count']} file(s) soft-deleted, {doc['bytes']} bytes; {doc['due']} past the "
        f"{doc['safety_window_days']}-day safety window"
        + (f"; {waiting} wait for a verified copy on {remote}" if waiting else "")
    ]
    for s in doc["soft_deleted"]:
        if s.get("restore"):
            when = "protected again: the next apply restores it"
        else:
            when = "due now" if s["due"] else f"purge after {s['purge_after']}"
        lines.append(
            f"  {s['file_id']}  {s['type']:<11} {s['size']:>12}  {s['path']}  "
            f"deleted {s['deleted_at']}, {when}"
        )
        if s.get("restore"):
            lines.append(f"    restore: {s['restore']}")
        lines.append(f"    reason: {s['reason'] or '(no audit entry)'}")
        if s["waits_for_remote_copy"]:
            lines.append(f"    waits for a verified copy on {remote}")
        elif s["needs_remote_copy"]:
            lines.append(f"    remote copy verified {s['remote_verified_at']}")
    return lines
