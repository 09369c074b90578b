"""The store's value classes (store/frozen.py) behave as the frozen dataclasses they replace:
equality and hash over the compared fields, the dataclass repr, assignment refused, replace."""

from __future__ import annotations

import copy
import pickle

import pytest

from ita_rules.store.blobs import Staged
from ita_rules.store.frozen import FrozenError
from ita_rules.store.journal import Entry
from ita_rules.store.records import Record
from ita_rules.store.spec import PutSpec


def record(**changes: object) -> Record:
    fields: dict[str, object] = {
        "file_id": "f",
        "path": "exchange/a.png",
        "hash": "sha256:" + "0" * 64,
        "size": 3,
        "type": "screenshot",
        "symbol": "GER40",
        "timeframe": None,
        "run_id": None,
        "tags": ("a",),
        "metadata": {"k": 1},
        "created_at": "2026-01-01T00:00:00.000000Z",
    }
    return Record(**{**fields, **changes})  # type: ignore[arg-type]


def test_a_record_is_equal_on_every_field_but_deduplicated() -> None:
    assert record() == record(deduplicated=True)
    assert record() != record(status="deleted")
    assert record() != record(metadata={"k": 2})
    assert record().__eq__(("f",)) is NotImplemented
    assert record(status="deleted").status == "deleted"
    assert record().original_name is None and record().deduplicated is False


def test_the_repr_names_every_field_in_order_as_the_dataclass_did() -> None:
    assert repr(PutSpec("screenshot", tags=("x",))) == (
        "PutSpec(type='screenshot', symbol=None, timeframe=None, run_id=None, tags=('x',),"
        " metadata=None)"
    )
    shown = repr(record())
    assert shown.startswith("Record(file_id='f', path='exchange/a.png', ")
    assert shown.endswith("original_name=None, deduplicated=False)")


def test_fields_cannot_be_assigned_or_deleted() -> None:
    value = record()
    with pytest.raises(AttributeError, match="cannot assign to field 'path'"):
        value.path = "x"
    with pytest.raises(FrozenError, match="cannot delete field 'size'"):
        del value.size
    with pytest.raises(FrozenError):
        value.new = 1
    assert value.path == "exchange/a.png"


def test_replace_makes_a_changed_copy_and_refuses_unknown_fields() -> None:
    value = record(deduplicated=True)
    changed = value.replace(tags=("a", "b"))
    assert (changed.tags, value.tags) == (("a", "b"), ("a",))
    assert changed.deduplicated is True and changed.file_id == "f"
    with pytest.raises(TypeError):
        value.replace(nope=1)
    spec = PutSpec("screenshot", "GER40").replace(run_id="run_1")
    assert spec == PutSpec("screenshot", "GER40", None, "run_1")


def test_hashable_values_hash_as_equal_ones_and_copies_stay_equal() -> None:
    assert hash(PutSpec("screenshot", tags=("x",))) == hash(PutSpec("screenshot", tags=("x",)))
    assert {Entry(1, {}) == Entry(1, {}), Entry(1, {}) == Entry(2, {})} == {True, False}
    staged = Staged("/tmp/.ita-tmp-1-a", "sha256:00", 2, "a.png")
    assert len({staged, Staged("/tmp/.ita-tmp-1-a", "sha256:00", 2, "a.png")}) == 1
    with pytest.raises(TypeError):
        hash(record())  # its metadata is a dict, as with the frozen dataclass
    for value in (record(), PutSpec("t", metadata={"a": 1}), staged):
        assert copy.copy(value) == value == pickle.loads(pickle.dumps(value))
