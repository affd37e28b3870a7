"""The students' view in a real browser: ``frontline view`` driven by headless Chromium.

Starts ``frontline view`` on a free loopback port, opens it in Debian's Chromium through
Playwright (never a downloaded browser), and checks that the map and charts render, that Step
advances the date by one day, and that a changed slider and seed take effect after Reset. Any
page error or console error fails the test. A screenshot goes to ``test-artifacts/view.png``.

Timings (command start to a usable page; one Step with its re-render) are printed, never
asserted. With ``FRONTLINE_VIEW_DOCS=1`` the test also plays the model for a few months and
writes the README's screenshot, ``docs/view.png``.

Outside CI the test is skipped when ``/usr/bin/chromium`` is absent; in CI (``CI=true``) it
always runs.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import date, timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCENARIO = "baseline_2024"
IN_CI = os.environ.get("CI", "").lower() == "true"

if not CHROMIUM.exists() and not IN_CI:
    pytest.skip(
        f"{CHROMIUM} is absent (apt-get install chromium); the browser test runs in CI",
        allow_module_level=True,
    )

if IN_CI:  # in CI a missing dependency is a failure, not a skip
    from playwright.sync_api import sync_playwright
else:
    pytest.importorskip("solara", reason="the view needs the viz extra")
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _frontline() -> list[str]:
    script = Path(sys.executable).with_name("frontline")
    return [str(script)] if script.exists() else [sys.executable, "-m", "sim"]


@pytest.fixture(scope="module")
def server():
    """``frontline view`` on a free port; yields (url, start time); stopped at the end."""
    port = _free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log = (ARTIFACTS / "view-server.log").open("w")
    started = time.perf_counter()
    proc = subprocess.Popen(
        [*_frontline(), "view", SCENARIO, "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the solara child goes with it
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"frontline view exited with {proc.returncode}; see {log.name}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"frontline view did not answer on {url} within 120 s")
            time.sleep(0.2)
        yield url, started
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def _date(page) -> date:
    return date.fromisoformat(page.locator(".frontline-date").inner_text().strip())


def _image_src(page, cls: str) -> str:
    return page.locator(f"img.{cls}").get_attribute("src") or ""


def _wait_new_image(page, cls: str, old: str, timeout: float = 30_000) -> None:
    page.wait_for_function(
        "([sel, old]) => { const i = document.querySelector(sel);"
        " return i && i.src && i.src !== old && i.complete && i.naturalWidth > 0; }",
        arg=[f"img.{cls}", old],
        timeout=timeout,
    )


def _rendered(page, cls: str) -> bool:
    return page.evaluate(
        "sel => { const i = document.querySelector(sel);"
        " return !!i && i.complete && i.naturalWidth > 200 && i.naturalHeight > 200; }",
        f"img.{cls}",
    )


def _wait_text(
    page,
    cls: str,
    *,
    equals: str | None = None,
    contains: str | None = None,
    at_least: str | None = None,
    timeout: float = 30_000,
) -> None:
    """Wait until the element of class ``cls`` exists and its text matches."""
    page.wait_for_function(
        "([sel, eq, has, least]) => { const e = document.querySelector(sel);"
        " if (!e) return false; const t = e.innerText.trim();"
        " return (eq === null || t === eq) && (has === null || t.includes(has))"
        " && (least === null || t >= least); }",
        arg=[f".{cls}", equals, contains, at_least],
        timeout=timeout,
    )


def _slider(page, name: str):
    return page.locator(".v-input__slider", has_text=name).locator("[role=slider]")


def test_view_in_browser(server, browser):
    url, started = server
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(f"pageerror: {err}"))
    page.on(
        "console",
        lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None,
    )
    page.goto(url)
    step = page.get_by_role("button", name="Step")
    step.wait_for(timeout=120_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('img.frontline-map, img.frontline-charts')]"
        ".filter(i => i.complete && i.naturalWidth > 0).length === 2",
        timeout=120_000,
    )
    ready = time.perf_counter() - started
    print(f"\nview: command start to usable page {ready:.1f} s")

    # The map and the charts are real images; the date is the scenario's start.
    assert _rendered(page, "frontline-map") and _rendered(page, "frontline-charts")
    start = _date(page)
    assert start == date(2024, 1, 1)
    assert "overrides: none" in page.locator(".frontline-run").inner_text()

    # Step: the date advances by exactly one day and the map is drawn again.
    timings = []
    for k in (1, 2):
        old = _image_src(page, "frontline-map")
        t0 = time.perf_counter()
        step.click()
        _wait_text(page, "frontline-date", equals=(start + timedelta(days=k)).isoformat())
        _wait_new_image(page, "frontline-map", old)
        timings.append(time.perf_counter() - t0)
    print(f"view: one Step with its re-render {min(timings):.2f} s (of {timings})")
    assert _date(page) == start + timedelta(days=2)

    # A parameter and the seed: move advance_slowdown one step right, type seed 7, Reset.
    thumb = _slider(page, "advance_slowdown")
    thumb.focus()
    thumb.press("ArrowRight")
    seed = page.get_by_label("Seed (whole number)")
    seed.fill("7")
    seed.press("Enter")
    page.get_by_role("button", name="Reset").click()
    _wait_text(page, "frontline-run", contains="advance_slowdown=")
    run = page.locator(".frontline-run").inner_text()
    assert "seed 7" in run, run
    moved = f"{_one_step_right('advance_slowdown'):g}"
    assert f"advance_slowdown={moved}" in run, run
    assert _date(page) == start
    # ... and the rebuilt model runs with it: the value in use, then a Step.
    in_use = page.locator(".frontline-values").inner_text()
    assert f"advance_slowdown = {moved} (set)" in in_use, in_use
    step.click()
    _wait_text(page, "frontline-date", equals=(start + timedelta(days=1)).isoformat())

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "view.png"))
    if os.environ.get("FRONTLINE_VIEW_DOCS"):
        _docs_screenshot(page)
    assert not errors, "\n".join(errors)


def _one_step_right(key: str) -> float:
    """Where a slider lands after one ArrowRight: the scenario's value plus one step, snapped to
    the slider's grid (registry minimum plus whole steps), as Vuetify does."""
    from sim.app import VIEW_PARAMS, scenario_value
    from sim.params import PARAMS
    from sim.scenario import load_scenario

    spec = load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "baseline_2024.toml")
    step, low = VIEW_PARAMS[key], PARAMS[key].low
    value = scenario_value(spec, key) + step
    return low + round((value - low) / step) * step


def _docs_screenshot(page, days: int = 120) -> None:
    """Reset to the scenario's own values, play ``days`` days, save ``docs/view.png``."""
    seed = page.get_by_label("Seed (whole number)")
    seed.fill("0")
    seed.press("Enter")
    thumb = _slider(page, "advance_slowdown")
    thumb.focus()
    thumb.press("ArrowLeft")
    page.get_by_role("button", name="Reset").click()
    _wait_text(page, "frontline-run", contains="overrides: none")
    page.get_by_role("button", name="▶").click()
    target = (date(2024, 1, 1) + timedelta(days=days)).isoformat()
    _wait_text(page, "frontline-date", at_least=target, timeout=days * 5_000)
    page.get_by_role("button", name="❚❚").click()
    time.sleep(2)
    shot = ARTIFACTS / "view-docs.png"
    page.screenshot(path=str(shot))
    shutil.copyfile(shot, ROOT / "docs" / "view.png")
