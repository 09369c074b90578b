"""put / get / find / tag through the CLI and the Python API, on SQLite and Postgres."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from tests.conftest import run_on_a_terminal, write
from tests.store.conftest import StoreWs


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_put_find_get_roundtrip(store_ws: StoreWs, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = write(store_ws.root / "GER40_M15.csv", "time,open\n2026-01-15 08:00,100\n")
    r = cli(
        "store",
        "put",
        str(src),
        "--type",
        "candles",
        "--symbol",
        "GER40",
        "--timeframe",
        "M15",
        "--run-id",
        "flow_run_7f3a",
        "--tag",
        "london",
        "--meta",
        "source=broker",
        "--json",
    )
    assert r.code == 0, r.err
    [rec] = json.loads(r.out)
    assert rec["hash"] == _sha(src.read_bytes())
    assert rec["size"] == src.stat().st_size
    assert rec["path"].startswith("archive/raw/GER40_flow_run_7f3a_")
    assert rec["path"].endswith("Z.csv")
    assert rec["tags"] == ["london"] and rec["metadata"] == {"source": "broker"}
    assert rec["status"] == "live"
    assert (store_ws.store_root / rec["path"]).read_bytes() == src.read_bytes()

    for args in (
        ["--symbol", "GER40"],
        ["--timeframe", "M15"],
        ["--run-id", "flow_run_7f3a"],
        ["--tag", "london"],
        ["--type", "candles"],
        ["--hash", rec["hash"]],
        ["--hash", rec["hash"][7:]],
        ["--since", "2000-01-01"],
        ["--until", "2999-01-01"],
    ):
        found = json.loads(cli("store", "find", *args, "--json").out)
        assert [f["file_id"] for f in found] == [rec["file_id"]], args
    for args in (
        ["--symbol", "EURUSD"],
        ["--tag", "asia"],
        ["--until", "2000-01-01"],
        ["--type", "model"],
    ):
        assert json.loads(cli("store", "find", *args, "--json").out) == [], args

    out = tmp_path / "copy.csv"
    r = cli("store", "get", rec["file_id"], "-o", str(out))
    assert r.code == 0, r.err
    assert out.read_bytes() == src.read_bytes()
    shown = json.loads(cli("store", "get", rec["file_id"], "--json").out)
    assert shown["file_id"] == rec["file_id"] and Path(shown["absolute_path"]).is_file()

    r = cli("store", "tag", rec["file_id"], "important", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["tags"] == ["important", "london"]
    assert [
        f["file_id"] for f in json.loads(cli("store", "find", "--tag", "important", "--json").out)
    ] == [rec["file_id"]]


def test_same_bytes_stored_once_each_put_has_its_record(store_ws: StoreWs, cli) -> None:  # type: ignore[no-untyped-def]
    a = write(store_ws.root / "a.png", b"\x89PNG same bytes")
    b = write(store_ws.root / "b.png", b"\x89PNG same bytes")
    first = json.loads(
        cli("store", "put", str(a), "--type", "screenshot", "--run-id", "run_1", "--json").out
    )[0]
    second = json.loads(
        cli("store", "put", str(b), "--type", "screenshot", "--run-id", "run_2", "--json").out
    )[0]
    assert first["file_id"] != second["file_id"]
    # each record has its own name (its run's), both names one stored file (a hard link)
    assert first["path"].startswith("to_vision/run_1_")
    assert second["path"].startswith("to_vision/run_2_")
    stored = [p for p in (store_ws.store_root / "to_vision").iterdir()]
    assert len(stored) == 2 and len({p.stat().st_ino for p in stored}) == 1
    # each run still finds its own record
    assert [
        f["file_id"] for f in json.loads(cli("store", "find", "--run-id", "run_2", "--json").out)
    ] == [second["file_id"]]

    store = store_ws.open()
    try:
        assert store.refcount(first["hash"]) == 2
        assert store.remove(first["file_id"]) is False  # the second record still needs the file
        assert not (store_ws.store_root / first["path"]).exists()  # its own name goes
        assert (store_ws.store_root / second["path"]).read_bytes() == b"\x89PNG same bytes"
        assert store.refcount(first["hash"]) == 1
        assert store.remove(second["file_id"]) is True  # the last one: the file goes
        assert not (store_ws.store_root / second["path"]).exists()
        # the same bytes put again are stored again, under the new record's name
        again = store.put(a, type="screenshot")
        assert (store_ws.store_root / again.path).is_file() and not again.deduplicated
    finally:
        store.close()
    r = cli("store", "fsck")
    assert r.code == 0, r.out + r.err


def test_bulk_put_of_a_directory_in_one_go(store_ws: StoreWs, cli) -> None:  # type: ignore[no-untyped-def]
    folder = store_ws.root / "charts"
    for i in range(30):
        write(folder / f"sub{i % 3}" / f"c{i}.png", f"chart {i % 20}".encode())  # 10 duplicates
    r = cli(
        "store",
        "put",
        str(folder),
        "--type",
        "screenshot",
        "--symbol",
        "GER40",
        "--tag",
        "london",
        "--json",
    )
    assert r.code == 0, r.err
    records = json.loads(r.out)
    assert len(records) == 30 and len({x["file_id"] for x in records}) == 30
    assert len({x["hash"] for x in records}) == 20
    files = [p for p in (store_ws.store_root / "to_vision").iterdir()]
    assert len(files) == 20
    for record in records:
        assert _sha((store_ws.store_root / record["path"]).read_bytes()) == record["hash"]
    assert r.err == ""  # no progress bar when stderr is not a terminal
    assert cli("store", "fsck").code == 0


def test_python_api_put_returns_a_record(store_ws: StoreWs) -> None:
    src = write(store_ws.root / "model.pkl", b"\x80\x04pickled")
    store = store_ws.open()
    try:
        record = store.put(
            src, type="model", symbol="GER40", tags=["b", "a"], metadata={"epochs": 3}
        )
        assert record.type == "model" and record.tags == ("a", "b")
        assert record.path.startswith("archive/models/GER40_")
        assert store.get(record.file_id) == record
        other = store.put(src, type="embedding")  # same bytes, other type: still one file,
        assert other.path.startswith("archive/embeddings/") and other.deduplicated  # 2 names
        root = store_ws.store_root
        assert (root / other.path).samefile(root / record.path)
    finally:
        store.close()


def test_type_folders_follow_the_spec_and_config(store_ws: StoreWs, cli) -> None:  # type: ignore[no-untyped-def]
    (store_ws.root / "ita.toml").write_text('[store]\nfolders = { candles = "data/candles" }\n')
    expected = {
        "candles": "data/candles/",
        "result": None,
        "provenance": "archive/provenance/",
        "screenshot": "to_vision/",
        "annotation": "annotated/",
        "model": "archive/models/",
        "embedding": "archive/embeddings/",
        "notes": "archive/notes/",
    }
    for type_, prefix in expected.items():
        if prefix is None:
            continue
        ext = "csv" if type_ == "candles" else "bin"  # candles are CSV or Parquet files
        src = write(store_ws.root / f"{type_}.{ext}", type_.encode())
        rec = json.loads(cli("store", "put", str(src), "--type", type_, "--json").out)[0]
        assert rec["path"].startswith(prefix), (type_, rec["path"])


def test_help_has_examples(cli) -> None:  # type: ignore[no-untyped-def]
    for verb in (
        ["store", "put"],
        ["store", "get"],
        ["store", "find"],
        ["store", "tag"],
        ["store", "verify"],
        ["store", "fsck"],
        ["store", "rebuild"],
        ["db", "upgrade"],
    ):
        r = cli(*verb, "--help")
        assert r.code == 0 and "Example:" in r.out, verb


def test_bulk_put_reports_progress_and_draws_a_bar_on_a_terminal(store_ws: StoreWs) -> None:
    import os
    import sys

    folder = store_ws.root / "many"
    for i in range(250):
        write(folder / f"{i}.png", f"p{i}".encode())
    calls: list[tuple[int, int]] = []
    store = store_ws.open()
    try:
        from ita_rules.store import PutSpec

        store.put_many(
            sorted(folder.iterdir())[:20],
            PutSpec("screenshot"),
            progress=lambda d, t: calls.append((d, t)),
        )
    finally:
        store.close()
    assert calls == [(i, 20) for i in range(1, 21)]

    proc, drawn = run_on_a_terminal(
        [sys.executable, "-m", "ita_rules", "store", "put", "many", "--type", "screenshot"],
        store_ws.root,
        os.environ,
    )
    assert proc.returncode == 0
    assert len(proc.stdout.splitlines()) == 250
    assert b"\rput [" in drawn and b"] 250/250" in drawn
