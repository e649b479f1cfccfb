"""Screenshots of the Dagster UI for the README, taken with the OS's Chromium driven by Playwright.

Usage (after `scripts/demo.sh`, with `.venv/bin/bucketlens ui` running on port 3000):

    apt-get install -y chromium                       # once; Playwright's own browser download is not used
    .venv/bin/python -m uv pip install --python .venv/bin/python playwright   # or: uv sync --extra screenshots
    .venv/bin/python scripts/screenshots.py [--url http://127.0.0.1:3000] [--out docs/img]

It dismisses the UI's first-visit dialog and saves the layers (`asset-graph.png`), the anomaly layer
(`asset-group-anomaly.png`), `runs.png`, `asset-user_daily_cost.png`, `asset-abuse_flags.png`, `automation.png` and `daily-report.png`
(the newest daily report under `--reports`).
"""

import argparse
import shutil
from pathlib import Path

from playwright.sync_api import sync_playwright

LOCATION = "pipelines.definitions:defs"  # the code location workspace.yaml defines


def _open(browser, url: str, height: int = 1000):
    context = browser.new_context(viewport={"width": 1700, "height": height})
    context.add_init_script("localStorage.setItem('communityNux', '1')")  # the first-visit dialog
    page = context.new_page()
    page.goto(url, wait_until="networkidle")
    page.wait_for_timeout(2500)
    skip = page.get_by_role("button", name="Skip")
    if skip.count():
        skip.click()
    return page


def asset_graph(browser, base: str, out: Path) -> None:
    """The layers (groups collapsed: raw → usage → cost → anomaly → alerts → reports), and one layer opened."""
    page = _open(browser, f"{base}/asset-groups")
    page.screenshot(path=str(out / "asset-graph.png"))
    page = _open(browser, f"{base}/locations/{LOCATION}/asset-groups/anomaly/lineage", height=1800)
    page.screenshot(path=str(out / "asset-group-anomaly.png"))


def runs(browser, base: str, out: Path) -> None:
    page = _open(browser, f"{base}/runs")
    page.screenshot(path=str(out / "runs.png"))


def asset_page(browser, base: str, out: Path, asset: str) -> None:
    page = _open(browser, f"{base}/assets/{asset}")
    page.screenshot(path=str(out / f"asset-{asset}.png"))


def automation(browser, base: str, out: Path) -> None:
    """Schedules and sensors, on by default."""
    page = _open(browser, f"{base}/automation")
    page.screenshot(path=str(out / "automation.png"))


def daily_report(browser, reports: Path, out: Path) -> None:
    """The newest daily report, opened from disk as a user would (it is a self-contained HTML file)."""
    newest = max(reports.glob("daily_report/*.html"), default=None)
    if newest is None:
        print(f"no daily report under {reports}: run the demo first")
        return
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto(newest.resolve().as_uri(), wait_until="load")
    page.wait_for_timeout(500)
    page.screenshot(path=str(out / "daily-report.png"), full_page=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:3000")
    parser.add_argument("--out", default="docs/img")
    parser.add_argument("--reports", default=".bucketlens/reports", help="$BUCKETLENS_HOME/reports")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        raise SystemExit("chromium not found: apt-get install -y chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        asset_graph(browser, args.url, out)
        runs(browser, args.url, out)
        asset_page(browser, args.url, out, "user_daily_cost")
        asset_page(browser, args.url, out, "abuse_flags")
        automation(browser, args.url, out)
        daily_report(browser, Path(args.reports), out)
        browser.close()
    print(f"screenshots written to {out}/")


if __name__ == "__main__":
    main()
