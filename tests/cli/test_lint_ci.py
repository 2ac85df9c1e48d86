"""Issue 14, ``nexus lint`` in CI: ``--fail-on warning|error`` (default error) decides which
violations fail the command, and ``--format sarif`` is a SARIF 2.1.0 log for GitHub code
scanning, each result located (artifactLocation uri, region startLine/startColumn), with its
ruleId, level and message."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.helpers import assert_lists, help_text, nexus

#: One warning (explicit-timeout: no timeout chosen), no error.
WARNS = """\
name: warns
functions:
  reserve: python:examples.order_saga.functions:reserve_stock
states:
  - name: Reserve
    action: reserve
"""

#: One error (no-plain-http), at the function's URI, besides the warning.
FAILS = """\
name: fails
functions:
  ping: {uri: "http://ping.example.com/", method: GET}
states:
  - name: Ping
    action: ping
"""

CLEAN = WARNS.replace("functions:", "defaults:\n  timeout: 10s\nfunctions:", 1)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def test_help_lists_fail_on_and_format() -> None:
    assert_lists(help_text("lint"), "--fail-on", "warning", "--format", "sarif", "--json")


def test_fail_on_decides_which_severity_fails(tmp_path: Path) -> None:
    warns, fails, clean = (
        write(tmp_path, n, t) for n, t in (("warns", WARNS), ("fails", FAILS), ("clean", CLEAN))
    )
    assert nexus("lint", str(warns)).returncode == 0  # default: errors fail, warnings pass
    assert nexus("lint", str(warns), "--fail-on", "error").returncode == 0
    gated = nexus("lint", str(warns), "--fail-on", "warning")
    assert gated.returncode == 1, gated.stderr
    assert "warning: [explicit-timeout]" in gated.stdout
    assert nexus("lint", str(fails)).returncode == 1
    assert nexus("lint", str(fails), "--fail-on", "warning").returncode == 1
    assert nexus("lint", str(clean), "--fail-on", "warning").returncode == 0
    assert nexus("lint", str(warns), "--fail-on", "info").returncode == 2


def test_sarif_results_are_located(tmp_path: Path) -> None:
    warns, fails = write(tmp_path, "warns", WARNS), write(tmp_path, "fails", FAILS)
    result = nexus("lint", str(warns), str(fails), "--format", "sarif")
    assert result.returncode == 1, result.stderr
    log = json.loads(result.stdout)  # one document, nothing else on stdout
    assert log["version"] == "2.1.0" and "sarif" in log["$schema"]
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "nexus lint"
    rule_ids = [r["id"] for r in driver["rules"]]
    assert {"explicit-timeout", "no-plain-http"} <= set(rule_ids)
    by_rule = {r["ruleId"]: r for r in run["results"]}
    assert set(by_rule) >= {"explicit-timeout", "no-plain-http"}
    for r in run["results"]:
        assert r["level"] in ("error", "warning") and r["message"]["text"]
        assert rule_ids[r["ruleIndex"]] == r["ruleId"]
        (location,) = r["locations"]
        physical = location["physicalLocation"]
        assert physical["artifactLocation"]["uri"].endswith(".yaml")
        assert physical["region"]["startLine"] >= 1 and physical["region"]["startColumn"] >= 1
    plain = by_rule["no-plain-http"]
    assert plain["level"] == "error"
    assert "unencrypted" in plain["message"]["text"]
    physical = plain["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"]["uri"].endswith("fails.yaml")
    line = FAILS.splitlines().index('  ping: {uri: "http://ping.example.com/", method: GET}') + 1
    assert physical["region"]["startLine"] == line
    in_warns = [
        r
        for r in run["results"]
        if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("warns.yaml")
    ]
    assert [(r["ruleId"], r["level"]) for r in in_warns] == [("explicit-timeout", "warning")]
    assert in_warns[0]["locations"][0]["physicalLocation"]["region"]["startLine"] >= 4


def test_sarif_uris_are_relative_to_the_working_directory() -> None:
    result = nexus("lint", "examples/approval", "--format", "sarif", "--fail-on", "warning")
    log = json.loads(result.stdout)
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in log["runs"][0]["results"]
    }
    assert all(u.startswith("examples/approval/") for u in uris), uris
    assert result.returncode == (1 if uris else 0)


def test_json_stays_and_format_json_is_the_same(tmp_path: Path) -> None:
    warns = write(tmp_path, "warns", WARNS)
    alias = json.loads(nexus("lint", str(warns), "--json").stdout)
    named = json.loads(nexus("lint", str(warns), "--format", "json").stdout)
    assert alias == named and alias["warnings"] == 1 and alias["errors"] == 0
