"""The Temporal Web UI of the embedded dev server, in a real headless Chromium: a NEXUS execution
is found in the workflow list by its definition's name, and its page shows each activity's
summary (the state name) and the current details (the state it waits in).

Needs Debian's ``chromium`` at /usr/bin/chromium (``.ci/run`` installs it); without it the
test fails and says how to install it.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from playwright.async_api import async_playwright, expect
from temporalio.client import Client

from interpreters.workflow import STATE_QUERY
from nexus_temporal.devserver import DevServer
from tests.helpers.run import nexus_worker, start
from workers.telemetry import free_port

CHROMIUM = Path("/usr/bin/chromium")
#: Without these Chromium stalls on a machine without internet (update, sync, QUIC probes).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FNS = "python:tests.helpers.functions"
UI_TIMEOUT_MS = 90_000


def flow(name: str) -> str:
    return f"""
    name: {name}
    version: "1"
    functions:
      echo: {FNS}:echo
    states:
      - name: Greet
        action: echo
        next: Hold
      - name: Hold
        type: wait
        signal: go
    """


async def test_web_ui_lists_a_nexus_workflow_by_type_with_state_summaries(
    tmp_path: Path,
) -> None:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: this test drives Debian's Chromium; install it with "
            "'apt-get install -y chromium' (.ci/run does this in CI)"
        )
    type_name = f"ui-{uuid.uuid4().hex[:8]}"
    server = DevServer(port=free_port(), ui_port=free_port(), db_file=None).start()
    try:
        client = await Client.connect(server.address)
        async with nexus_worker(client, flow(type_name)) as worker:
            handle = await start(client, worker, type_name, {})
            for _ in range(300):
                if (await handle.query(STATE_QUERY))["current"] == ["Hold"]:
                    break
                await asyncio.sleep(0.1)
            assert (await handle.query(STATE_QUERY))["current"] == ["Hold"]

            async with async_playwright() as pw:
                browser = await pw.chromium.launch(
                    executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=UI_TIMEOUT_MS
                )
                try:
                    page = await browser.new_page(viewport={"width": 1400, "height": 1000})
                    page.set_default_timeout(UI_TIMEOUT_MS)
                    await page.goto(
                        f"http://127.0.0.1:{server.ui_port}/namespaces/default/workflows",
                        timeout=UI_TIMEOUT_MS,
                    )
                    # The list: the execution's row, found by its type (the definition's name).
                    row = page.locator("tr", has=page.get_by_role("link", name=type_name))
                    await expect(row).to_have_count(1, timeout=UI_TIMEOUT_MS)
                    await expect(row).to_contain_text(handle.id)
                    await expect(row).to_contain_text("Running", ignore_case=True)
                    await page.screenshot(path=str(tmp_path / "workflows.png"), full_page=True)

                    # Its page: the timeline labels the activity with its summary, the state.
                    await row.get_by_role("link", name=handle.id).click()
                    await expect(page.get_by_text("nexus.invoke • Greet")).to_be_visible(
                        timeout=UI_TIMEOUT_MS
                    )
                    await page.screenshot(path=str(tmp_path / "timeline.png"), full_page=True)

                    # Current details: the state it waits in, and how many are done.
                    # (rendered from Markdown inside a sandboxed iframe).
                    await page.get_by_role("tab", name="User Metadata").click()
                    details = page.frame_locator("iframe").locator("body")
                    await expect(details).to_contain_text("State: Hold", timeout=UI_TIMEOUT_MS)
                    await expect(details).to_contain_text("Done: 1 states")
                    await page.screenshot(path=str(tmp_path / "details.png"), full_page=True)
                finally:
                    await browser.close()
            await handle.signal("go", None)
            await asyncio.wait_for(handle.result(), 60)
    finally:
        server.stop()
        if server.log_file is not None:
            server.log_file.unlink(missing_ok=True)
    for shot in ("workflows.png", "timeline.png", "details.png"):
        assert (tmp_path / shot).stat().st_size > 10_000, shot
