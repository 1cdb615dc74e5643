"""The demo driven end to end in a real headless Chromium (Debian's package; playwright only drives it): train the
example subject for a few steps with the progress bar showing, then generate with it and see the images; in the
Video tab, tune on the offline clip the same way, then edit it and see the clip and its frames."""
from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest

pytest.importorskip("gradio")
sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = next((p for p in ("/usr/lib/chromium/chromium", "/usr/bin/chromium") if Path(p).exists()),
                shutil.which("chromium"))
pytestmark = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                                                   "(apt-get install --no-install-recommends chromium)")]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def set_number(page, label: str, value: int) -> None:
    """Type into a Gradio slider's number box (Enter commits it)."""
    box = page.get_by_label(f"number input for {label}")
    box.fill(str(value))
    box.press("Enter")


def run_with_progress(page, button: str, status: str) -> None:
    """Click a training button, see Gradio's progress bar, and wait for 'Done' in the ``status`` box (or a toast)."""
    page.get_by_role("button", name=button).click()
    page.locator(".progress-text, .eta-bar, .progress-level").first.wait_for(timeout=60_000)
    page.wait_for_function("() => [...document.querySelectorAll('textarea')].some(e => e.value.startsWith('Done'))"
                           " || document.querySelector('.toast-body') !== null", timeout=240_000)
    assert "Done" in page.get_by_label(status).input_value(), page.locator(".toast-body").all_inner_texts()


@pytest.fixture
def demo(tiny_sd_folder, tmp_path):
    from visadapt.demo.app import build_app

    app = build_app(str(tiny_sd_folder), tmp_path / "runs", max_steps=5)
    port = free_port()
    app.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}", tmp_path / "runs"
    app.close()


@pytest.fixture
def browser_page(demo):
    """(a headless Chromium page on the demo, the demo's runs folder)."""
    url, runs = demo
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 1600})
        page.goto(url)
        yield page, runs
        browser.close()


def test_train_then_generate_in_a_browser(browser_page, tmp_path):
    page, runs = browser_page
    page.get_by_label("use the offline example subject").check()
    set_number(page, "training steps", 2)
    run_with_progress(page, "Train", "status")
    page.get_by_role("tab", name="Generate").click()
    set_number(page, "steps", 2)
    page.get_by_role("button", name="Generate").click()
    page.locator("[data-testid='gallery'] img, .gallery img, .thumbnail-item img").first.wait_for(timeout=120_000)
    page.screenshot(path=str(tmp_path / "demo.png"), full_page=True)
    run = next(runs.glob("zwx_*/*/adapter/pytorch_lora_weights.safetensors"))
    assert (run.parent.parent / "results.json").is_file()


def test_video_tab_tune_then_edit_in_a_browser(browser_page, tmp_path):
    page, runs = browser_page
    page.get_by_role("tab", name="Video").click()
    page.get_by_role("button", name="Tune").click()  # no clip chosen yet
    toast = page.locator(".toast-body", has_text="Upload a short video or GIF")
    toast.wait_for(timeout=30_000)
    page.locator(".toast-close").first.click()
    toast.wait_for(state="detached", timeout=30_000)
    page.get_by_label("use the offline example clip").check()
    set_number(page, "tuning steps", 2)
    run_with_progress(page, "Tune", "tuning result")
    set_number(page, "edit steps", 2)
    page.get_by_role("button", name="Edit").click()
    page.locator("video[src]").first.wait_for(timeout=120_000)
    strips = page.locator("img[src*='video.png'], img[src*='source.png']")
    strips.nth(1).wait_for(timeout=30_000)
    page.screenshot(path=str(tmp_path / "video_tab.png"), full_page=True)
    edit = next(runs.glob("video/simda_*/*/edits/*/video.mp4")).parent
    assert {"video.gif", "video.png", "source.png", "generation.json"} <= {p.name for p in edit.iterdir()}
