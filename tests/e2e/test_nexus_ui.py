"""``nexus ui`` in a real headless Chromium against the dev server: a failed saga shows its
failing state red and its compensated states marked, the state panel shows the input and
output history recorded, and a running map shows its progress growing without a reload.

With ``NEXUS_UI_SCREENSHOT=docs/ui.png`` the saga's page is saved there (docs/ui.md shows it).
Needs Debian's ``chromium`` at /usr/bin/chromium, as tests/e2e/test_web_ui.py.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, async_playwright, expect
from temporalio.client import Client, WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from nexus_temporal.ui import Loop, Source, UIServer
from tests.e2e.test_web_ui import CHROMIUM, CHROMIUM_ARGS
from tests.helpers.processes import ROOT
from tests.helpers.run import nexus_worker, registry_of, start

TIMEOUT_MS = 60_000
SAGA = (ROOT / "examples" / "order_saga" / "workflow.yaml").read_text()
SLOW_MAP = """
name: slow-map
version: "1"
functions:
  slow: python:tests.helpers.functions:sleep_then_echo
states:
  - name: Prepare
    type: pass
    next: Scan
  - name: Scan
    type: map
    items: items
    input: '{"seconds": 1, "item": $}'
    action: slow
    max_concurrency: 2
    next: Done
  - name: Done
    type: succeed
"""
UNDELIVERABLE = {"order_id": "o-2", "address": "Nowhere", "items": [{"sku": "a", "price": 20}]}


def _console(errors: list[str], kind: str, text: str) -> None:
    if kind == "error":
        errors.append(text)


async def _node_colour(page: Page, state: str) -> str:
    value = await page.evaluate(
        "(id) => window.nexusUi.cy.$id(id).style('background-color')", f"s:{state}"
    )
    return str(value)


async def _map_done(page: Page) -> tuple[int, int]:
    text = await page.locator('#states tr[data-state="Scan"] .map-progress').inner_text()
    found = re.search(r"(\d+) done, (\d+) failed / (\d+)", text)
    assert found, text
    return int(found.group(1)), int(found.group(3))


async def test_nexus_ui_draws_a_failed_saga_and_a_running_map(env: WorkflowEnvironment) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with 'apt-get install -y chromium'")
    client = env.client
    loop = Loop()
    target = client.service_client.config.target_host
    ui_client = loop.run(Client.connect(target, namespace=client.namespace))
    registry = registry_of(SAGA, SLOW_MAP)
    ui = UIServer(Source(ui_client, registry, web_ui="http://localhost:8233"), loop, poll_ms=500)
    async with nexus_worker(client, SAGA, SLOW_MAP) as worker:
        saga = await start(client, worker, "order-saga", UNDELIVERABLE)
        with pytest.raises(WorkflowFailureError):
            await saga.result()
        ui.start()
        try:
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(
                    executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=TIMEOUT_MS
                )
                try:
                    page = await browser.new_page(viewport={"width": 1500, "height": 1100})
                    page.set_default_timeout(TIMEOUT_MS)
                    errors: list[str] = []
                    page.on("console", lambda m: _console(errors, m.type, m.text))
                    await _saga(page, ui.url, saga.id)
                    slow = await start(client, worker, "slow-map", {"items": list(range(16))})
                    await _running_map(page, ui.url, slow.id)
                    assert not errors, errors  # no script error, no CSP violation
                finally:
                    await browser.close()
            await slow.result()
        finally:
            ui.stop()
            loop.stop()


async def _saga(page: Page, url: str, workflow_id: str) -> None:
    await page.goto(url)
    row = page.locator(f'#executions tr[data-workflow-id="{workflow_id}"]')
    await expect(row).to_contain_text("order-saga@1")
    await expect(row).to_contain_text("failed")
    await expect(row.get_by_role("link", name="Web UI")).to_have_attribute(
        "href", re.compile(r"^http://localhost:8233/namespaces/default/workflows/")
    )
    await row.get_by_role("link", name=workflow_id).click()
    states = page.locator("#states")
    expected = {
        "ReserveStock": "compensated",
        "ChargeCard": "compensated",
        "ShipOrder": "caught",
        "AddressProblem": "failed",
        "Done": "not_reached",
    }
    for state, status in expected.items():
        await expect(states.locator(f'tr[data-state="{state}"]')).to_have_attribute(
            "data-status", status
        )
    # The graph draws the same: the failing state red, the compensated ones purple.
    await page.wait_for_function("window.nexusUi.cy && window.nexusUi.cy.nodes().length > 5")
    assert await _node_colour(page, "AddressProblem") == "rgb(217,54,54)"
    assert await _node_colour(page, "ReserveStock") == "rgb(138,85,201)"
    assert await _node_colour(page, "ChargeCard") == "rgb(138,85,201)"
    assert await _node_colour(page, "Done") == "rgb(201,206,214)"
    await expect(page.locator("#compensations li")).to_have_count(2)
    await expect(page.locator("#compensations li").nth(0)).to_contain_text("ChargeCard: refund")
    await expect(page.locator("#compensations li").nth(1)).to_contain_text("ReserveStock: release")
    await expect(page.locator("#execution-error")).to_contain_text("AddressRejected")

    # Clicking a state in the graph opens its panel: what history recorded for it.
    await page.evaluate("() => { window.nexusUi.cy.$id('s:ChargeCard').emit('tap'); }")
    panel = page.locator("#panel")
    await expect(panel.locator("h3")).to_have_text("ChargeCard")
    await expect(panel.locator(".visit-input")).to_contain_text('"amount": 20')
    await expect(panel.locator(".visit-output")).to_contain_text('"charge_id": "ch-o-2"')
    await page.locator('#states tr[data-state="ShipOrder"]').click()
    await expect(panel.locator(".visit-input")).to_contain_text('"address": "Nowhere"')
    await expect(panel.locator(".visit-error")).to_contain_text("carrier rejected the address")
    shot = os.environ.get("NEXUS_UI_SCREENSHOT")
    if shot:
        await page.locator('#states tr[data-state="ChargeCard"]').click()
        await page.screenshot(path=str(Path(ROOT, shot)), full_page=True)


async def _running_map(page: Page, url: str, workflow_id: str) -> None:
    await page.goto(f"{url}/#/executions/{workflow_id}")
    row = page.locator('#states tr[data-state="Scan"]')
    await expect(row).to_have_attribute("data-status", "running")
    first, total = await _map_done(page)
    assert total == 16 and first < 16
    # Polling, no reload: the count grows while the map runs, then the map succeeds.
    await expect(row.locator(".map-progress")).not_to_contain_text(f"{first} done", timeout=20_000)
    later, _ = await _map_done(page)
    assert later > first
    await expect(row).to_have_attribute("data-status", "succeeded", timeout=30_000)
    await expect(row.locator(".map-progress")).to_contain_text("16 done, 0 failed / 16")
    await expect(page.locator('#states tr[data-state="Done"]')).to_have_attribute(
        "data-status", "succeeded"
    )
    view: Any = await page.evaluate("() => ({status: window.nexusUi.execution.status})")
    assert view["status"] == "succeeded"
