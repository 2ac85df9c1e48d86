"""``retry.jitter: full``: each delay is a random part of the backoff delay, drawn from the
workflow's seeded random, so the execution replays with the same timers."""

from __future__ import annotations

import uuid

from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from nexus_temporal.replay import replay
from tests.helpers.run import nexus_worker, registry_of, start

#: The example of docs/dsl.md §10.3.
JITTERED = """
name: jittered
functions:
  flaky: python:tests.helpers.functions:flaky
states:
  - name: Call
    action: flaky
    retry: {max_attempts: 4, initial_interval: 1s, backoff_coefficient: 1, jitter: full}
"""


async def test_full_jitter_waits_a_random_part_of_each_delay(env: WorkflowEnvironment) -> None:
    data = {"key": f"jitter-{uuid.uuid4().hex}", "fail_times": 3}
    async with nexus_worker(env.client, JITTERED) as w:
        handle = await start(env.client, w, "jittered", data)
        result = await handle.result()
        history: WorkflowHistory = await handle.fetch_history()
    assert result["Call"]["attempts"] == 4
    timers = [
        e.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta().total_seconds()
        for e in history.events
        if e.HasField("timer_started_event_attributes")
    ]
    assert len(timers) == 3 and all(0 < t <= 1 for t in timers), timers
    assert len(set(timers)) > 1, timers  # drawn, not the fixed 1 s backoff
    [report] = await replay([history], registry_of(JITTERED))
    assert report.ok, report.problem
