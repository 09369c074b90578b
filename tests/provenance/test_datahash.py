"""data_hash: plain file hash, and the canonical range hash of candle CSV / Parquet."""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ita_rules.core.errors import UsageError
from ita_rules.provenance import arrowhash, csvhash, datahash
from ita_rules.provenance.datahash import DataHashError, DataRange, csv_range_hash, range_hash
from tests.provenance.conftest import HEADER, candle_lines

ENGINES = ["python", "arrow"]
MAY = DataRange.parse(("2025-05-01", "2025-05-31"))


def write_csv(path: Path, lines: list[str], header: str = HEADER) -> Path:
    path.write_text(header + "".join(lines))
    return path


@pytest.fixture
def base_lines() -> list[str]:
    return candle_lines(dt.datetime(2025, 4, 25), 24 * 45, dt.timedelta(hours=1))  # to 8 June


def test_plain_hash_equals_openssl_and_hashlib(tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    data = bytes(range(256)) * 9000 + b"tail"  # more than one 1 MiB read
    path.write_bytes(data)
    digest, size = datahash.file_hash(path)
    assert size == len(data)
    assert digest == "sha256:" + hashlib.sha256(data).hexdigest()
    out = subprocess.run(
        ["openssl", "dgst", "-sha256", str(path)], capture_output=True, text=True, check=True
    ).stdout
    assert digest.removeprefix("sha256:") == out.split()[-1]


@pytest.mark.parametrize("engine", ENGINES)
def test_range_counts_and_bounds(tmp_path: Path, base_lines: list[str], engine: str) -> None:
    path = write_csv(tmp_path / "c.csv", base_lines)
    r = csv_range_hash(path, MAY, engine=engine)
    assert (r.rows, r.first, r.last) == (31 * 24, "2025-05-01T00:00:00Z", "2025-05-31T23:00:00Z")
    assert r.time_column == "time" and r.format == "csv"


def test_engines_agree_and_blocks_do_not_matter(
    tmp_path: Path, base_lines: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_csv(tmp_path / "c.csv", base_lines)
    hashes = {csv_range_hash(path, MAY, engine=e).hash for e in ENGINES}
    monkeypatch.setattr(csvhash, "CSV_BLOCK", 300)  # many tiny blocks, cut mid-line
    monkeypatch.setattr(arrowhash, "ARROW_BLOCK", 300)
    hashes |= {csv_range_hash(path, MAY, engine=e).hash for e in ENGINES}
    assert len(hashes) == 1


@pytest.mark.parametrize("engine", ENGINES)
def test_appending_after_the_range_changes_nothing(
    tmp_path: Path, base_lines: list[str], engine: str
) -> None:
    path = write_csv(tmp_path / "c.csv", base_lines)
    before = csv_range_hash(path, MAY, engine=engine)
    more = candle_lines(dt.datetime(2025, 6, 9), 24 * 30, dt.timedelta(hours=1), seed=7)
    with path.open("a") as fh:
        fh.writelines(more)
    after = csv_range_hash(path, MAY, engine=engine)
    assert after == before
    assert datahash.file_hash(path)[0] != hashlib.sha256(b"").hexdigest()


@pytest.mark.parametrize("engine", ENGINES)
def test_a_corrected_candle_inside_the_range_changes_the_hash(
    tmp_path: Path, base_lines: list[str], engine: str
) -> None:
    path = write_csv(tmp_path / "c.csv", base_lines)
    before = csv_range_hash(path, MAY, engine=engine)
    i = next(i for i, line in enumerate(base_lines) if line.startswith("2025-05-15 12:00"))
    cells = base_lines[i].rstrip("\n").split(",")
    cells[4] = f"{float(cells[4]) + 0.25:.2f}"  # the close corrected by a quarter point
    write_csv(path, [*base_lines[:i], ",".join(cells) + "\n", *base_lines[i + 1 :]])
    after = csv_range_hash(path, MAY, engine=engine)
    assert after.hash != before.hash
    assert (after.rows, after.first, after.last) == (before.rows, before.first, before.last)


@pytest.mark.parametrize("engine", ENGINES)
def test_changes_outside_the_range_change_nothing(
    tmp_path: Path, base_lines: list[str], engine: str
) -> None:
    path = write_csv(tmp_path / "c.csv", base_lines)
    before = csv_range_hash(path, MAY, engine=engine)
    changed = [
        line.replace(",1", ",2", 1) if line.startswith("2025-04-2") else line for line in base_lines
    ]
    assert changed != base_lines
    write_csv(path, changed)
    assert csv_range_hash(path, MAY, engine=engine) == before


@pytest.mark.parametrize("engine", ENGINES)
def test_same_candles_written_differently_hash_equal(tmp_path: Path, engine: str) -> None:
    """Trailing zeros, integer vs float volume, column order and case, zone suffix, delimiter,
    CRLF and epoch seconds: one canonical form."""
    a = tmp_path / "a.csv"
    a.write_text(
        "time,open,high,low,close,volume\n"
        "2025-05-01 00:00:00,1.10,1.20,1.00,1.15,100\n"
        "2025-05-01 01:00:00,1.15,1.25,1.05,1.2,0\n"
    )
    b = tmp_path / "b.csv"
    b.write_bytes(
        b"Timestamp;Volume;Close;Open;High;Low\r\n"
        b"2025-05-01T00:00:00Z;100.0;1.150;1.1;1.2;1\r\n"
        b"2025-05-01T01:00:00+00:00;-0;1.20;1.150;1.250;1.050\r\n"
    )
    c = tmp_path / "c.csv"
    c.write_text(
        "ts,open,high,low,close,volume\n1746057600,1.1,1.2,1,1.15,100\n"
        "1746061200000,1.15,1.25,1.05,1.2,0\n".replace("1746061200000", "1746061200")
    )
    hashes = {csv_range_hash(p, MAY, engine=engine).hash for p in (a, b, c)}
    assert len(hashes) == 1


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("unit", [1, 1_000, 1_000_000, 1_000_000_000])
def test_epoch_times_in_any_unit(tmp_path: Path, engine: str, unit: int) -> None:
    iso = write_csv(tmp_path / "iso.csv", ["2025-05-01 00:00:00,1,2,0.5,1.5,7\n"])
    epoch = write_csv(tmp_path / "epoch.csv", [f"{1746057600 * unit},1,2,0.5,1.5,7\n"])
    assert csv_range_hash(epoch, MAY, engine=engine) == csv_range_hash(iso, MAY, engine=engine)


@pytest.mark.parametrize("engine", ENGINES)
def test_mixed_time_forms_in_one_file(tmp_path: Path, engine: str) -> None:
    """Naive, Z and offset times mixed in one column: each read as it says (naive = UTC)."""
    mixed = write_csv(
        tmp_path / "m.csv",
        [
            "2025-05-01 00:00:00,1,1,1,1,1\n",
            "2025-05-01T03:00:00+02:00,2,2,2,2,2\n",
            "2025-05-01T02:00:00Z,3,3,3,3,3\n",
        ],
    )
    plain = write_csv(
        tmp_path / "p.csv",
        [
            "2025-05-01 00:00:00,1,1,1,1,1\n",
            "2025-05-01 01:00:00,2,2,2,2,2\n",
            "2025-05-01 02:00:00,3,3,3,3,3\n",
        ],
    )
    assert csv_range_hash(mixed, MAY, engine=engine) == csv_range_hash(plain, MAY, engine=engine)


@pytest.mark.parametrize("engine", ENGINES)
def test_different_prices_or_times_hash_differently(tmp_path: Path, engine: str) -> None:
    rows = [
        "2025-05-01 00:00:00,1.1,1.2,1.0,1.15,100\n",
        "2025-05-01 01:00:00,1.1,1.2,1.0,1.15,100\n",
    ]
    base = csv_range_hash(write_csv(tmp_path / "a.csv", rows), MAY, engine=engine).hash
    moved = [rows[0], rows[1].replace("01:00", "02:00")]
    price = [rows[0], rows[1].replace("1.15", "1.16")]
    swapped = [rows[0], rows[1].replace("1.1,1.2", "1.2,1.1")]
    others = {
        csv_range_hash(write_csv(tmp_path / f"{i}.csv", r), MAY, engine=engine).hash
        for i, r in enumerate((moved, price, swapped))
    }
    assert len(others) == 3 and base not in others


def test_csv_and_parquet_hash_equal(tmp_path: Path, base_lines: list[str]) -> None:
    import pyarrow as pa  # a dev dependency (and the [parquet] extra)
    import pyarrow.parquet as pq

    csv = write_csv(tmp_path / "c.csv", base_lines)
    times, cols = [], {k: [] for k in ("open", "high", "low", "close", "volume")}
    for line in base_lines:
        t, *vals = line.rstrip("\n").split(",")
        times.append(dt.datetime.fromisoformat(t).replace(tzinfo=dt.UTC))
        for key, v in zip(cols, vals, strict=True):
            cols[key].append(float(v) if key != "volume" else int(v))
    table = pa.table(
        {
            "volume": pa.array(cols["volume"], pa.int64()),
            "Time": pa.array(times, pa.timestamp("ms", tz="UTC")),
            **{k: cols[k] for k in ("close", "open", "high", "low")},
        }
    )
    pq.write_table(table, tmp_path / "c.parquet", row_group_size=100)
    from_csv = range_hash(csv, MAY, engine="python")
    from_parquet = range_hash(tmp_path / "c.parquet", MAY)
    assert from_parquet.hash == from_csv.hash
    assert (from_parquet.rows, from_parquet.first, from_parquet.last) == (
        from_csv.rows,
        from_csv.first,
        from_csv.last,
    )
    assert from_parquet.format == "parquet"


def test_date_end_covers_the_whole_day_and_datetimes_are_exact() -> None:
    r = DataRange.parse(("2025-05-01", "2025-05-01"))
    assert r.end - r.start == 86_400_000_000 - 1
    exact = DataRange.parse(("2025-05-01T10:00:00", "2025-05-01T10:00:00Z"))
    assert exact.start == exact.end
    with pytest.raises(UsageError, match="before start"):
        DataRange.parse(("2025-05-02", "2025-05-01"))
    with pytest.raises(UsageError, match="expected a date"):
        DataRange.parse(("May 1", "2025-05-01"))


@pytest.mark.parametrize("engine", ENGINES)
def test_bad_files_are_clear_errors(tmp_path: Path, engine: str) -> None:
    nocol = write_csv(tmp_path / "n.csv", ["1,2,3\n"], header="a,b,c\n")
    with pytest.raises(DataHashError, match="no time column found"):
        csv_range_hash(nocol, MAY, engine=engine)
    with pytest.raises(DataHashError, match="'when' not found"):
        csv_range_hash(nocol, MAY, engine=engine, time_column="when")
    word = write_csv(tmp_path / "w.csv", ["2025-05-01 00:00:00,1,x,1,1,1\n"])
    with pytest.raises(DataHashError):
        csv_range_hash(word, MAY, engine=engine)
    assert (
        csv_range_hash(
            write_csv(
                tmp_path / "t.csv", ["2025-05-01 00:00:00,1,2,1,1,1\n"], header="When,o,h,l,c,v\n"
            ),
            MAY,
            engine=engine,
            time_column="when",
        ).rows
        == 1
    )


def test_python_reader_names_the_bad_line(tmp_path: Path) -> None:
    bad = write_csv(
        tmp_path / "b.csv", ["2025-05-01 00:00:00,1,1,1,1,1\n", "2025-05-01 01:00:00,1,1,1\n"]
    )
    with pytest.raises(DataHashError) as info:
        csv_range_hash(bad, MAY, engine="python")
    assert str(info.value).startswith(f"{bad}:3: expected 6 cells")


prices = st.decimals(min_value=1, max_value=99999, places=2, allow_nan=False)


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(st.tuples(prices, prices, st.integers(0, 10**6)), min_size=1, max_size=30),
    zeros=st.integers(0, 3),
)
def test_number_spelling_never_matters(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[object, object, int]], zeros: int
) -> None:
    folder = tmp_path_factory.mktemp("prop")
    start = dt.datetime(2025, 5, 1)
    plain = ["time,open,close,volume\n"]
    padded = ["time,open,close,volume\n"]
    for i, (o, c, v) in enumerate(rows):
        t = f"{start + dt.timedelta(minutes=i):%Y-%m-%d %H:%M:%S}"
        plain.append(f"{t},{float(o)!r},{float(c)!r},{v}\n")
        padded.append(f"{t},{o}{'0' * zeros},{c}{'0' * zeros},{v}.{'0' * (zeros + 1)}\n")
    (folder / "p.csv").write_text("".join(plain))
    (folder / "q.csv").write_text("".join(padded))
    hashes = {
        csv_range_hash(folder / n, MAY, engine=e).hash for n in ("p.csv", "q.csv") for e in ENGINES
    }
    assert len(hashes) == 1


@pytest.mark.parametrize("engine", ENGINES)
def test_a_pandas_csv_hashes_like_the_same_candles_without_the_index(
    tmp_path: Path, base_lines: list[str], engine: str
) -> None:
    plain = csv_range_hash(write_csv(tmp_path / "p.csv", base_lines), MAY, engine=engine)
    numbered = [f"{i},{line}" for i, line in enumerate(base_lines)]  # df.to_csv(): RangeIndex
    indexed = write_csv(tmp_path / "i.csv", numbered, header="," + HEADER)
    assert csv_range_hash(indexed, MAY, engine=engine).hash == plain.hash
    as_index = write_csv(tmp_path / "t.csv", base_lines, header="," + HEADER.split(",", 1)[1])
    by_index = csv_range_hash(as_index, MAY, engine=engine)  # a DatetimeIndex without a name
    assert (by_index.hash, by_index.time_column) == (plain.hash, "")


def test_no_time_column_names_what_is_accepted(tmp_path: Path) -> None:
    nocol = write_csv(tmp_path / "n.csv", ["1,2,3\n"], header="a,b,c\n")
    with pytest.raises(DataHashError) as err:
        csv_range_hash(nocol, MAY)
    assert str(err.value) == (
        f"{nocol}: no time column found (columns: a, b, c); accepted names: time, timestamp, "
        "datetime, date_time, date, ts, open_time, gmt time, local time, time_utc, "
        "datetime_utc, or an unnamed first column (a pandas index); name another with "
        "--time-column (runs start) or time_column= (Python)"
    )


def test_first_difference_names_the_candle_and_field(tmp_path: Path, base_lines: list[str]) -> None:
    from ita_rules.provenance.candlediff import first_difference, read_candles

    old = write_csv(tmp_path / "old.csv", base_lines)
    changed = list(base_lines)
    t, o, h, low, c, v = changed[200].rstrip("\n").split(",")
    changed[200] = ",".join([t, o, h, low, "1.5", v]) + "\n"
    new = write_csv(tmp_path / "new.csv", changed)
    before = read_candles(old, MAY, None, "old.csv")
    when = dt.datetime.fromisoformat(t).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert first_difference(before, read_candles(new, MAY, None, "new.csv")) == (
        f"first difference at {when}: close {float(c)!r} -> 1.5"
    )
    assert first_difference(before, before) is None
    fewer = write_csv(tmp_path / "fewer.csv", base_lines[:200] + base_lines[201:])
    assert first_difference(before, read_candles(fewer, MAY, None, "f.csv")) == (
        f"first difference at {when}: the recorded candle is gone"
    )


def test_a_pandas_parquet_with_its_time_as_the_index(tmp_path: Path, base_lines: list[str]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    times, closes = [], []
    for line in base_lines:
        t, _o, _h, _l, c, _v = line.rstrip("\n").split(",")
        times.append(dt.datetime.fromisoformat(t).replace(tzinfo=dt.UTC))
        closes.append(float(c))
    table = pa.table({"close": closes, "__index_level_0__": pa.array(times, pa.timestamp("ns"))})
    pq.write_table(table, tmp_path / "i.parquet")
    plain = write_csv(
        tmp_path / "p.csv",
        [f"{line.split(',')[0]},{line.split(',')[4]}\n" for line in base_lines],
        header="time,close\n",
    )
    by_index = range_hash(tmp_path / "i.parquet", MAY)
    assert (by_index.hash, by_index.time_column) == (
        range_hash(plain, MAY).hash,
        "__index_level_0__",
    )
