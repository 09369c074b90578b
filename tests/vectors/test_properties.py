"""Over random sets of embeddings (groups, ages, tags, runs of active, inactive and unknown
rules) in the embedded store: no protected vector is ever selected, at least ``keep_last`` per
group survive, only vectors older than ``retain_days`` are selected, and after apply a second
plan selects nothing."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.vectors.conftest import ACTIVE_RUN, INACTIVE_RUN, VecWs, unique

UNKNOWN_RUN = "run_2025_01_01_009"
KEEP_LAST, RETAIN_DAYS = 3, 180  # the README policy's embedding type (tests/retention/conftest)

vector = st.tuples(
    st.sampled_from(["a", "b", "c"]),
    st.integers(min_value=0, max_value=400),
    st.booleans(),
    st.sampled_from([ACTIVE_RUN, INACTIVE_RUN, INACTIVE_RUN, UNKNOWN_RUN]),
)


@pytest.mark.parametrize("vec_ws", ["embedded"], indirect=True)
@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(vector, min_size=1, max_size=20))
def test_no_protected_vector_is_selected_and_keep_last_survive(
    vec_ws: VecWs, vectors: list[tuple[str, int, bool, str]]
) -> None:
    from ita_rules.retention import jobs
    from ita_rules.workspace import Workspace

    name = unique("prop")
    for i, (group, days, tagged, run_id) in enumerate(vectors):
        vec_ws.save(name, [f"v{i}"], run_id=run_id, days_old=[days], groups=[group],
                    tags=["important"] if tagged else [])  # fmt: skip
    try:
        desk = Workspace.open(vec_ws.root)
        plan = jobs.plan(desk)
        decided = {d.file_id.rsplit("/", 1)[1]: d for d in plan.decisions if d.type == "embedding"}
        assert len(decided) == len(vectors)
        for i, (_group, days, tagged, run_id) in enumerate(vectors):
            d = decided[f"v{i}"]
            if tagged or run_id != INACTIVE_RUN:
                assert d.action == "keep" and d.protected, d
            if d.action != "keep":
                assert days >= RETAIN_DAYS, d
        for group in {v[0] for v in vectors}:
            members = [i for i, v in enumerate(vectors) if v[0] == group]
            kept = [i for i in members if decided[f"v{i}"].action == "keep"]
            assert len(kept) >= min(KEEP_LAST, len(members))
        jobs.apply(desk)
        again = jobs.plan(desk)
        assert [d for d in again.selected if d.type == "embedding"] == []
    finally:
        _forget(vec_ws, name)


def _forget(ws: VecWs, name: str) -> None:
    """Remove the example's collection and its manifest rows (the next example starts clean)."""
    import sqlalchemy as sa

    from ita_rules.provenance import vectorstore
    from ita_rules.provenance.embeddings import manifest

    s = ws.settings()
    vectorstore.open_store(vectorstore.address(s.vectors_url, s.root)).delete_collection(name)
    db = ws.db()
    try:
        with db.write() as conn:
            conn.execute(sa.delete(manifest).where(manifest.c.collection == name))
    finally:
        db.dispose()
