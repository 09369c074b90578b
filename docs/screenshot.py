#!/usr/bin/env python3
"""Make README's screenshot of the report's runs page (docs/img/report-runs.png).

    .venv/bin/python docs/screenshot.py [--out docs/img/report-runs.png]

Builds, in a temporary folder, the desk the browser tests build (tests/report/conftest.py:
``ita-rules init``, a setup with three versions by two traders, four backtest runs, candles,
a chart and a model stored, ``runs verify``, a retention policy), runs ``ita-rules report``,
opens ``runs.html`` over ``file://`` in Debian's headless Chromium (``/usr/bin/chromium``,
through Playwright; needs the dev extra), picks ``--metric`` in the chart's picker and saves
the page. Nothing outside the temporary folder is written but ``--out``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img" / "report-runs.png")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--metric", default="Sharpe Ratio", help="chosen in the metric picker")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    from tests.report.conftest import CHROMIUM, build_desk, launch

    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: apt-get install chromium", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="ita-report-shot-") as tmp:
        base = Path(tmp)
        (base / "home").mkdir()
        built = build_desk(base, base / "home")
        with sync_playwright() as playwright:
            browser = launch(playwright)
            try:
                page = browser.new_page(viewport={"width": args.width, "height": 800})
                page.goto((built.site / "runs.html").as_uri(), wait_until="load")
                page.select_option("select#metric", args.metric)
                args.out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(args.out), full_page=True)
            finally:
                browser.close()
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
