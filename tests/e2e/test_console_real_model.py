"""The Playground with a real model (llama.cpp serving SmolLM2, no usage in its streams): the answer
streams in as the model writes it and the footer shows what the gateway recorded."""

import re
import time

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.e2e.test_console_flows import login, nav
from tests.support.llm import LlamaServer
from tests.support.servers import configure_over_http

pytestmark = pytest.mark.llm


@pytest.fixture(scope="module")
def llama(tmp_path_factory, llama_port):
    server = LlamaServer(tmp_path_factory.mktemp("llama") / "llama.log", port=llama_port)
    server.wait_ready()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def console_with_llama(console, llama):
    """The session's console with tenant `local`: a provider on the llama server and model `smol`."""
    configure_over_http(console.url, {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}, tenant="local",
                        provider={"name": "llama", "type": "openai-compatible", "base_url": llama.url,
                                  "options": {"timeout_s": 120}},
                        models=[{"name": "smol", "upstream_model": "smollm2", "input_price_per_1k": 1.0,
                                 "output_price_per_1k": 2.0}])
    return console


def test_playground_streams_a_local_model_and_shows_the_recorded_usage(console_with_llama, page: Page, shot):
    base = console_with_llama.url
    received: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda frame: received.append(str(frame))))
    login(page, base, ADMIN_EMAIL, ADMIN_PASSWORD)
    page.click("#tenant-switcher")
    page.get_by_role("option", name="local").click()
    expect(page.locator("#tenant-switcher")).to_contain_text("local", timeout=15_000)
    nav(page, "Playground")
    expect(page.locator("#playground-model")).to_contain_text("smol", timeout=15_000)

    page.fill("#playground-input", "Say hello in one short sentence.")
    received.clear()
    started = time.monotonic()
    page.click("#playground-send")
    answer = page.locator(".turn-assistant").last
    first_words = None
    while time.monotonic() - started < 90 and first_words is None and not page.locator(".turn-stats").count():
        shown = answer.inner_text().strip() if answer.count() else ""
        if shown and "thinking" not in shown:
            first_words = time.monotonic() - started
        time.sleep(0.05)
    expect(page.locator(".turn-stats")).to_be_visible(timeout=90_000)
    whole = time.monotonic() - started
    expect(page.locator(".turn-stats")).to_contain_text("tokens", timeout=5_000)
    shot(page, "30-playground-local-model")

    # The footer's figures are the ones the gateway recorded for this call (llama.cpp sends no usage
    # in streams, so both are the gateway's estimate).
    footer = page.locator(".turn-stats").last.inner_text()
    counted = re.search(r"(\d+) in / (\d+) out tokens \(estimated\) · \$(\d+\.\d+)", footer)
    assert counted and int(counted[1]) > 0 and int(counted[2]) > 0, footer
    jwt = httpx.post(base + "/admin/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    headers = {"Authorization": f"Bearer {jwt.json()['access_token']}", "X-Tenant-Id": "local"}
    recorded = []
    for _ in range(50):  # usage is written in batches off the request path
        recorded = httpx.get(base + "/admin/v1/usage/requests", headers=headers, timeout=10).json()
        if recorded:
            break
        time.sleep(0.2)
    assert len(recorded) == 1, recorded
    row = recorded[0]
    assert (row["prompt_tokens"], row["completion_tokens"]) == (int(counted[1]), int(counted[2])), (row, footer)
    assert f"{row['cost_usd']:.6f}" == counted[3], (row, footer)

    # The text reached the browser in a bounded number of updates (at most one per 50 ms), not one
    # socket message per token.
    text = answer.inner_text().strip()
    assert text, "the model's answer is empty"
    updates = [f for f in received if "turns_rx_state_" in f]
    assert updates and len(updates) <= whole / 0.05 + 5, f"{len(updates)} updates in {whole:.2f} s"
    print(f"local model in the playground: first words {first_words or whole:.2f} s, whole answer {whole:.2f} s, "
          f"{row['completion_tokens']} tokens, {len(updates)} updates")
