"""The benchmark still runs (issue 9, docs/benchmarks.md): `python -m bench --scale smoke` starts its
own Redis, database, daphne, Celery and load generators, runs every scenario at tiny sizes and writes
its report and plots. No timing is asserted: this machine is shared, and the numbers are the full
run's business (`make bench`)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ("## Targets", "## a. Presence ramp", "## b. Relay", "## c. Panel and sweep", "## d. Scale-out",
            "## e. Baseline", "## p. Page events at a fixed load", "## r. Owners' reports")  # fmt: skip


def bench_database() -> dict[str, str]:
    """The kind of database this test run uses (BENCH_DATABASE); on PostgreSQL, the same server."""
    db = settings.DATABASES["default"]
    if not db["ENGINE"].endswith("postgresql"):
        return {"BENCH_DATABASE": "sqlite"}
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return {"BENCH_DATABASE": "pg", "BENCH_PG": f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"}


def make_bench_command(out: Path) -> list[str]:
    """`make bench BENCH_SCALE=smoke`'s command, read from the Makefile, writing to `out`."""
    recipe = re.search(r"^bench:.*\n\t(.+)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    words = {"$(BIN)/python": sys.executable, "$(BENCH_SCALE)": "smoke", "$(BENCH_OUT)": str(out)}
    return [words.get(word, word) for word in recipe.split()]


@pytest.mark.timeout(600)
def test_smoke_run_writes_the_report_and_plots(tmp_path):
    command = make_bench_command(tmp_path)
    assert command[1:3] == ["-m", "bench"]
    done = subprocess.run(
        command, cwd=ROOT, env={**os.environ, **bench_database()}, capture_output=True, text=True, timeout=540
    )
    assert done.returncode == 0, done.stderr[-4000:]

    page = (tmp_path / "benchmarks.md").read_text()
    for section in SECTIONS:
        assert section in page, section
    for plot in ("bench-presence.png", "bench-relay.png", "bench-panel.png"):
        assert (tmp_path / "img" / plot).read_bytes().startswith(b"\x89PNG"), plot
        assert f"(img/{plot})" in page, plot
    results = json.loads((tmp_path / "img" / "bench-results.json").read_text())
    # Every scenario measured something: latencies came back through the real sockets.
    assert all(step["page"]["n"] for step in results["a"]["steps"]), results["a"]
    assert all(step["page"]["n"] for step in results["d"]["steps"]), results["d"]
    for key in ("b", "e"):
        assert all(level["n"] for level in results[key]["levels"]), results[key]
    # The page event three ways: the bare relay, the run's database, the embedded default.
    for leg in ("bare", "database", "unpatched", "redis_py", "embedded"):
        assert results["p"][leg]["steps"][0]["page"]["n"], results["p"][leg]
    assert "page→panel p95 on the embedded default" in page
    assert results["b"]["expiry"]["n"] == results["config"]["expiry_rooms"]
    queries = {q["event"]: q["queries"] for q in results["c"]["queries"]}
    assert {"message (visitor)", "message (operator)"} <= set(queries)
    assert queries["page of a visit in progress (Redis only)"] == 0
    # The reports: the same year cold and warm, the warm one from its rollups in a few queries.
    year = {t["state"]: t for t in results["r"]["timings"] if t["report"] == "year"}
    assert year["cold"]["conversations"] == year["warm"]["conversations"] > 0
    assert year["warm"]["queries"] <= 3


@pytest.mark.timeout(300)
def test_floor_run_measures_daphne_per_navigation(tmp_path):
    """bench/floor.py: White Panel's visitor frames answered with no logic behind them, driven as the
    presence ramp drives White Panel."""
    command = [sys.executable, "-m", "bench.floor", "--visitors", "6", "12", "--nav", "1", "--window", "3"]
    done = subprocess.run(
        [*command, "--out", str(tmp_path)], cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-4000:]
    steps = json.loads((tmp_path / "floor.json").read_text())["steps"]
    assert [step["visitors"] for step in steps] == [6, 12]
    for step in steps:
        assert step["navigations"] > 0, step
        assert not step["errors"], step
        assert step["daphne_ms_per_navigation"] > 0, step
