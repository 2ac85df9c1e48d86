"""``nexus bench resilience``: the real command line, in a subprocess."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.helpers.processes import nexus_cmd, run_cli

METRICS = (
    "workflows",
    "completion",
    "mttr_s",
    "amplification",
    "goodput",
    "p50_s",
    "p99_s",
    "safe_rollback",
    "duplicate_effects",
)


def test_quick_json_has_the_full_shape_in_under_a_minute() -> None:
    t0 = time.monotonic()
    proc = run_cli(nexus_cmd("bench", "resilience", "--quick", "--json"), timeout=120)
    elapsed = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert elapsed < 60, f"--quick took {elapsed:.1f} s"
    assert report["bench"] == "resilience" and report["mode"] == "quick"
    assert report["seeds"] == 3
    cells = {(c["scenario"], c["policy"]): c for c in report["cells"]}
    assert set(cells) == {
        (s, p) for s in ("overload", "brownout", "transient-20") for p in ("static", "adaptive")
    }
    for cell in cells.values():
        assert cell["seeds"] == 3
        for metric in METRICS:
            assert set(cell[metric]) >= {"median", "min", "max"}, metric
        c = cell["completion"]
        assert 0.0 <= c["min"] <= c["median"] <= c["max"] <= 1.0
    targets = report["targets"]
    assert set(targets) == {
        "amplification_cut",
        "mttr_cut",
        "completion_no_lower",
        "safe_rollback_100",
    }
    for t in targets.values():
        assert isinstance(t["met"], bool)
    cut = targets["amplification_cut"]["overload"]
    assert cut["static"] == cells[("overload", "static")]["amplification"]["median"]
    overhead = report["scoring_overhead"]
    assert overhead["attempts"] >= 10000 and 0 < overhead["median_us"] < 1000
    assert report["e2e"] is None


def test_chart_is_a_png_and_usage_errors_exit_2(tmp_path: Path) -> None:
    chart = tmp_path / "chart.png"
    proc = run_cli(
        nexus_cmd(
            "bench",
            "resilience",
            "--scenario",
            "transient-1",
            "--policy",
            "static",
            "--policy",
            "no-retry",
            "--seeds",
            "1",
            "--chart",
            str(chart),
        ),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "| transient-1 | static | 100% [100%–100%] |" in proc.stdout
    assert "| transient-1 | no-retry |" in proc.stdout
    assert "scoring overhead: median" in proc.stdout
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = run_cli(nexus_cmd("bench", "resilience", "--scenario", "meteor"), timeout=60)
    assert bad.returncode == 2
    assert "unknown scenario meteor" in bad.stderr and "Traceback" not in bad.stderr
    bad = run_cli(nexus_cmd("bench", "resilience", "--seeds", "0"), timeout=60)
    assert bad.returncode == 2 and "--seeds" in bad.stderr
