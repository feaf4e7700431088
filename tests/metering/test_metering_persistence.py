"""A file database survives closing and reopening: events, dedupe and ingestion order."""

from __future__ import annotations

import os
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from metering_harness import INGESTED, D, Harness, at, event, keyed, metric

from pulumi_metronome.metering import MeteringEngine
from pulumi_metronome.metering.engine import BACKGROUND_NICENESS


def test_events_and_dedupe_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    first = Harness(MeteringEngine(path))
    first.ingest(event("t1", n=1, ts=at(1)), event("t2", n=2, ts=at(1)))
    first.engine.close()

    second = Harness(MeteringEngine(path))
    try:
        # Known ids are still duplicates after the restart; new ones are stored.
        assert second.ingest(event("t1", n=50), event("t3", n=4, ts=at(1))) == (1, 1)
        assert second.value(metric("sum", **keyed("SUM"))) == D("7")
        # Ingestion order carries over: the tie on timestamp goes to t3, ingested last.
        assert second.value(metric("latest", **keyed("LATEST"))) == D("4")
    finally:
        second.engine.close()
    third = Harness(MeteringEngine(path))
    try:
        assert third.value(metric("count", aggregation_type="COUNT")) == 3
    finally:
        third.engine.close()


def test_concurrent_ingests_are_each_atomic_and_deduped(tmp_path: Path) -> None:
    """Eight threads send overlapping batches; group commit must store each id once."""
    h = Harness(MeteringEngine(tmp_path / "events.duckdb"))
    results: list[tuple[int, int]] = []
    lock = threading.Lock()

    def send(worker: int) -> None:
        for b in range(20):
            batch = [event(f"id-{(worker * 7 + b * 50 + i) % 1500}", ts=at(2)) for i in range(50)]
            outcome = h.ingest(*batch, at=INGESTED + timedelta(seconds=worker))
            with lock:
                results.append(outcome)

    threads = [threading.Thread(target=send, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stored = sum(s for s, _ in results)
    assert sum(s + d for s, d in results) == 8 * 20 * 50
    # ids run from 0 (worker 0, b 0, i 0) to 7 * 7 + 19 * 50 + 49 = 1048, every one of them.
    assert stored == h.value(metric("count", aggregation_type="COUNT")) == 1049
    h.engine.close()


CRASH = """
import os, sys
from datetime import datetime, UTC
sys.path.insert(0, {harness!r})
from metering_harness import INGESTED, at, event
from pulumi_metronome.metering import MeteringEngine
engine = MeteringEngine({path!r})
engine.ingest([event("t1", n=1, ts=at(1)), event("t2", n=2, ts=at(1))], ingested_at=INGESTED)
engine.ingest([event("t3", n=4, ts=at(1)), event("t1", n=8, ts=at(1))], ingested_at=INGESTED)
os._exit(0)  # killed: no close, nothing moved into DuckDB by a clean shutdown
"""


def test_a_killed_process_loses_no_acknowledged_batch(tmp_path: Path) -> None:
    import subprocess
    import sys

    from pulumi_metronome.metering.log import log_files

    path = tmp_path / "events.duckdb"
    script = CRASH.format(harness=str(Path(__file__).parent), path=str(path))
    subprocess.run([sys.executable, "-c", script], check=True, timeout=600)
    logs = log_files(path)
    assert logs, "the acknowledged batches are in the ingest log"
    with logs[-1].open("ab") as torn:  # a batch cut off mid-write: never acknowledged
        torn.write(b'[{"s":99,"t":"torn","c":"c1"')

    h = Harness(MeteringEngine(path))
    try:
        assert h.value(metric("sum", **keyed("SUM"))) == D("7")  # 1 + 2 + 4; t1 again is a dup
        assert h.ingest(event("t2", n=100), event("torn", n=16, ts=at(1))) == (1, 1)
        assert h.value(metric("sum", **keyed("SUM"))) == D("23")
    finally:
        h.engine.close()
    assert log_files(path) == []  # a clean close leaves everything in DuckDB


CRASH_IN_A_RECYCLED_LOG = """
import os, sys, time
sys.path.insert(0, {harness!r})
from metering_harness import INGESTED, at, event
from pulumi_metronome.metering import MeteringEngine
from pulumi_metronome.metering.log import spare_files
engine = MeteringEngine({path!r})
for b in range(30):  # long lines, so the first log file holds a few hundred KiB
    batch = [event(f"old-{{b}}-{{i}}", n=1, ts=at(1), pad="x" * 200) for i in range(50)]
    engine.ingest(batch, ingested_at=INGESTED)
engine.flush()  # into DuckDB; that log is now due to be zeroed and kept as the spare
engine._recycle()  # done here rather than waiting for the background thread to do it
# (unless the background thread took it first: then wait for it, however long a busy
# machine makes its low-priority thread take; the guard is only against a hang)
deadline = time.monotonic() + 300
while not spare_files(engine.path)[0].exists():
    assert time.monotonic() < deadline, "no spare log"
    time.sleep(0.05)
engine.flush()  # nothing pending: no rotation yet
engine.ingest([event("new-1", n=5, ts=at(1))], ingested_at=INGESTED)  # a rotation is due...
engine.flush()  # ...and now the second file is the recycled spare, renamed into place
engine.ingest([event("new-2", n=6, ts=at(1))], ingested_at=INGESTED)
os._exit(0)  # killed: the last batch is only in the recycled log file
"""


def test_a_batch_in_a_recycled_log_file_survives_a_kill(tmp_path: Path) -> None:
    import subprocess
    import sys

    from pulumi_metronome.metering.log import complete_lines, log_files

    path = tmp_path / "events.duckdb"
    script = CRASH_IN_A_RECYCLED_LOG.format(harness=str(Path(__file__).parent), path=str(path))
    subprocess.run([sys.executable, "-c", script], check=True, timeout=600)
    logs = log_files(path)
    # The recycled file is as large as the text it held before (zeros after the new line).
    recycled = logs[-1]
    text = complete_lines(recycled)
    assert '"new-2"' in text and text.count("\n") == 1
    assert recycled.stat().st_size > 30 * 50 * 200
    with recycled.open("r+b") as torn:  # then a batch cut off mid-write, over the zeros
        torn.seek(len(text.encode()))
        torn.write(b'[{"s":99999,"t":"torn","c":"c1"')

    h = Harness(MeteringEngine(path))
    try:
        count = metric("count", aggregation_type="COUNT")
        assert h.value(count) == 30 * 50 + 2  # every old event, new-1 and new-2; no "torn"
        assert h.value(metric("sum", **keyed("SUM"))) == D(30 * 50 + 5 + 6)
    finally:
        h.engine.close()
    assert log_files(path) == []


def test_compaction_keeps_every_answer_and_the_ingestion_order(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    h = Harness(MeteringEngine(path))
    latest = metric("latest", **keyed("LATEST"))
    total = metric("sum", **keyed("SUM"))
    # Interleaved customers; t-a and t-b tie on timestamp, t-b ingested last.
    h.ingest(*[event(f"x{i}", customer=f"c{i % 3}", n=1, ts=at(i % 20)) for i in range(60)])
    h.ingest(event("t-b", customer="c1", n=7, ts=at(22)))
    h.ingest(event("t-a", customer="c1", n=5, ts=at(22)), event("x0", customer="c1", n=99))
    assert h.engine.compact() is True
    assert h.engine.compact() is False  # nothing new
    assert h.value(latest, "c1") == D("5")  # t-a was ingested after t-b
    assert h.value(total, "c1") == D("32")  # 20 events of 1, then 7 and 5; x0 again is a dup
    h.ingest(event("x1", customer="c1", n=50), event("new", customer="c1", n=3, ts=at(23)))
    assert h.value(latest, "c1") == D("3")
    h.engine.close()
    reopened = Harness(MeteringEngine(path))
    try:
        assert reopened.value(total, "c1") == D("35")
        assert reopened.engine.compact() is True  # "new" arrived after the last rewrite
    finally:
        reopened.engine.close()


def test_compaction_while_ingesting_and_querying_loses_nothing(tmp_path: Path) -> None:
    h = Harness(MeteringEngine(tmp_path / "events.duckdb", auto_compact=False))
    count = metric("count", aggregation_type="COUNT")
    customers = [f"c{i}" for i in range(7)]
    errors: list[str] = []
    done = threading.Event()

    def ingest() -> None:
        try:
            for b in range(100):
                h.ingest(
                    *[event(f"t{b}-{i}", customer=f"c{i % 7}", ts=at(i % 24)) for i in range(50)]
                )
        except Exception as error:  # reported below
            errors.append(f"ingest: {error!r}")
        finally:
            done.set()

    def query() -> None:
        try:
            while not done.is_set():
                h.rows([count], customers)
        except Exception as error:
            errors.append(f"query: {error!r}")

    threads = [threading.Thread(target=ingest), threading.Thread(target=query)]
    for t in threads:
        t.start()
    rewrites = 0
    while not done.is_set():
        rewrites += h.engine.compact()
    for t in threads:
        t.join()
    assert errors == []
    assert rewrites >= 1
    assert sum(r.value or 0 for r in h.rows([count], customers)) == 100 * 50
    h.engine.close()


@pytest.mark.skipif(sys.platform != "linux", reason="a thread's own nice value is Linux's")
def test_the_background_thread_yields_the_cpu_to_the_request_threads(tmp_path: Path) -> None:
    engine = MeteringEngine(tmp_path / "events.duckdb")
    try:
        thread = engine._flusher
        assert thread.native_id is not None

        def nice_of(tid: int) -> int:
            # /proc/<pid>/task/<tid>/stat: field 19 is the nice value (after "comm)": 16th).
            fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
            return int(fields[16])

        process_nice = os.nice(0)
        # The thread lowers its own priority as it starts; wait for that however long a
        # busy machine delays it (the deadline only guards against a hang).
        deadline = time.monotonic() + 120
        # An increment on the process's own nice value (the suite may itself run niced).
        while nice_of(thread.native_id) != min(19, process_nice + BACKGROUND_NICENESS):
            assert time.monotonic() < deadline, nice_of(thread.native_id)
            time.sleep(0.01)
        assert nice_of(threading.get_native_id()) == process_nice  # the caller's is untouched
    finally:
        engine.close()
