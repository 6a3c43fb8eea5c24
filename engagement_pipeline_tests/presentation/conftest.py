"""One small generated data set run through the pipeline once per session: the lake, the
reports and the Dagster instance the presentation tests read (HTML report, dashboard, UI)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from engagement_pipeline.cli import main
from engagement_pipeline.sample_data import generate

ROOT = Path(__file__).resolve().parents[2]
FIRST, DAYS = dt.date(2025, 4, 1), 14
LAST = FIRST + dt.timedelta(days=DAYS - 1)
CHROMIUM = "/usr/bin/chromium"


@dataclass(frozen=True)
class SampleRun:
    config_path: Path
    dagster_home: Path
    lake: Path
    reports: Path
    last: str


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory) -> SampleRun:
    """300 generated customers over 14 days, every asset materialized by `engagement-pipeline
    run` into a persistent instance (the HTML only for the last date: a second a date)."""
    root = tmp_path_factory.mktemp("sample_run")
    generate(root / "data", 300, FIRST, DAYS, seed=5, planted=False)
    config = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    config["snapshots"] = {"start_date": FIRST.isoformat(), "end_date": LAST.isoformat()}
    config["engagement_data"]["file_path"] = str(root / "data" / "engagement_events.csv")
    config["purchase_data"]["file_path"] = str(root / "data" / "purchases.csv")
    config["storage"] = {"lake_path": "lake", "reports_path": "reports"}
    config["reports"] = {"html": False}
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    home = root / "dagster_home"
    home.mkdir()
    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home)
    try:
        assert (
            main(["--config", str(path), "run", "--to", (LAST - dt.timedelta(days=1)).isoformat()])
            == 0
        )
        config["reports"] = {"html": True}
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        assert main(["run", "--config", str(path), "--from", LAST.isoformat()]) == 0
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = previous
    return SampleRun(path, home, root / "lake", root / "reports", LAST.isoformat())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, seconds: float = 90.0) -> None:
    """Until `url` answers; a clear failure when the server exits or never answers."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server for {url} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {seconds:.0f} s")


@pytest.fixture(scope="session")
def browser(sample_run):
    """Debian's Chromium driven by Playwright (nothing is downloaded). Missing Chromium is
    a failure, not a skip: `python3 bootstrap.py test` installs it.

    It takes sample_run so that the run comes first: Dagster's in-process run uses asyncio,
    which must not meet the event loop Playwright keeps in this thread."""
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail(
            "Chromium is not installed: the browser tests need Debian's chromium package "
            "(apt-get install -y chromium; `python3 bootstrap.py test` installs it as root)."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
            args=["--no-sandbox"],
        )
        yield browser
        browser.close()


SCREENSHOTS = ROOT / "screenshots"  # git-ignored; README: "Screenshots"
