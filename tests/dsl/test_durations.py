"""Durations as users write them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from nexus_temporal.dsl import DefinitionError, compile_text
from nexus_temporal.dsl.durations import MAX_SECONDS, parse_duration, to_timedelta


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("2d", 172800.0),
        ("1h30m", 5400.0),
        ("1d2h3m4s", 93784.0),
        ("250ms", 0.25),
        ("1s500ms", 1.5),
        ("1.5h", 5400.0),
        (" 30s ", 30.0),
        ("0s", 0.0),
        ("PT5M", 300.0),
        ("PT1H30M", 5400.0),
        ("PT0.5S", 0.5),
        ("P1D", 86400.0),
        ("P1DT1S", 86401.0),
        (5, 5.0),
        (0, 0.0),
        (2.5, 2.5),
    ],
)
def test_parse(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "junk",
    [
        "5 sec",
        "5sec",
        "1h 30m",
        "",
        "   ",
        "s",
        "30",
        "-5s",
        "5x",
        "1h30",
        "P",
        "PT",
        "P1H",
        "PT5",
        "soon",
        -1,
        -0.5,
        True,
        False,
        None,
        [],
        {"seconds": 5},
        float("nan"),
        float("inf"),
        10**400,
        MAX_SECONDS + 1,
        "99999999999999999999d",
    ],
)
def test_reject(junk: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(junk)


def test_error_message_shows_the_accepted_forms() -> None:
    with pytest.raises(ValueError, match=r"'5 sec' is not a duration; write e\.g\. '30s'"):
        parse_duration("5 sec")


def test_every_accepted_duration_fits_a_timedelta() -> None:
    assert to_timedelta(parse_duration(MAX_SECONDS)) == timedelta(seconds=MAX_SECONDS)


def test_to_timedelta() -> None:
    assert to_timedelta(1.5) == timedelta(seconds=1.5)
    assert to_timedelta(None) is None


@pytest.mark.parametrize(
    ("field", "value", "line_col"),
    [
        ("  timeout", "5 sec", (3, 12)),
        ("  heartbeat", "-1", (3, 14)),
        ("  schedule_to_close", ".inf", (3, 22)),
        ("  retry:\n    initial_interval", "later", (4, 23)),
    ],
)
def test_bad_duration_in_a_definition_is_located(
    field: str, value: str, line_col: tuple[int, int]
) -> None:
    text = f"name: d\ndefaults:\n{field}: {value}\nstates:\n  - name: A\n    action: a\n"
    with pytest.raises(DefinitionError) as info:
        compile_text(text, "d.yaml")
    issue = info.value.issues[0]
    assert issue.code == "invalid-value"
    assert (issue.location.line, issue.location.column) == line_col
    assert "duration" in issue.message


def test_durations_in_a_definition_are_seconds() -> None:
    plan = compile_text(
        "name: d\ndefaults:\n  timeout: 1m30s\n  heartbeat: PT10S\n"
        "states:\n  - name: A\n    type: wait\n    duration: 250ms\n",
        "d.yaml",
    )
    assert plan.definition.defaults.timeout == 90.0
    assert plan.definition.defaults.heartbeat == 10.0
    assert plan.state("A").duration == 0.25  # type: ignore[union-attr]
