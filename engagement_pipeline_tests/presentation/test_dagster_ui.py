"""The Dagster UI on the sample run, in a browser: the asset graph shows every group, a
snapshot asset's partition shows that date's own metadata, and the Checks tab shows one
result per partition."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from engagement_pipeline.config import CONFIG_PATH_ENV
from engagement_pipeline.defs.build import build_definitions
from engagement_pipeline.defs.metadata import PREVIEW_ROWS
from engagement_pipeline_tests.presentation.conftest import (
    SCREENSHOTS,
    SampleRun,
    free_port,
    wait_for,
)

# one sample run and one browser per worker under pytest-xdist (--dist loadgroup)
pytestmark = pytest.mark.xdist_group("presentation")

ASSET = "customer_segments"  # a snapshot asset: one partition per date, its own figures
# One of its checks (not the one the tab opens on), with that date's rows as metadata.
CHECK = "one_segment_per_customer"
# Two dates of the ramp-up (customers join day by day): their counts differ, so a page
# showing another date's (or the run's) figures cannot pass for both.
DATES = ("2025-04-03", "2025-04-12")
TIMEOUT_MS = 20_000  # per UI expectation: the first page also waits for the code location
# Skips the "Join the Dagster community" dialog a fresh browser profile gets.
SKIP_COMMUNITY_DIALOG = "window.localStorage.setItem('communityNux', '\"1\"')"


@pytest.fixture(scope="module")
def dagster_ui(sample_run: SampleRun) -> Iterator[str]:
    """The Dagster webserver for the project's code location on the sample's instance; its
    base URL. Read-only: the tests only look, they never launch a run."""
    port = free_port()
    log = sample_run.dagster_home.parent / "dagster_webserver.log"
    env = {
        **os.environ,
        "DAGSTER_HOME": str(sample_run.dagster_home),
        CONFIG_PATH_ENV: str(sample_run.config_path),  # the code location builds from it
    }
    command = [
        sys.executable,
        "-m",
        "dagster_webserver",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-m",
        "engagement_pipeline.definitions",
        "--read-only",
    ]
    # Run from the sample's folder, not the checkout: Dagster loads a .env of its working
    # directory, and the checkout's .env points DAGSTER_HOME at the project's own instance.
    cwd = sample_run.config_path.parent
    with log.open("w", encoding="utf-8") as out:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for(f"http://127.0.0.1:{port}/server_info", process)
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no state shared between tests) at a desktop size."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    context.add_init_script(SKIP_COMMUNITY_DIALOG)
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def screenshot(page: Page, what: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"dagster_ui_{what}.png"), full_page=True)


def lake_partition(sample_run: SampleRun, date: str) -> Path:
    """The asset's rows of one date in the lake: what the UI's figures are checked against."""
    return sample_run.lake / ASSET / f"snapshot_date={date}" / "data.parquet"


def lake_count(sample_run: SampleRun, date: str) -> int:
    path = lake_partition(sample_run, date)
    return duckdb.sql(f"SELECT count(*) FROM read_parquet('{path}')").fetchall()[0][0]


def metadata_value(page: Page, key: str) -> Locator:
    """The value cell of the metadata row named exactly `key` (not e.g. `key/Champion`)."""
    row = page.locator("tr").filter(has=page.get_by_text(key, exact=True))
    return row.locator("td").nth(1)


def column(table: Locator, name: str) -> list[str]:
    """The cells of the column headed `name` in a rendered HTML table."""
    header = table.locator("thead th").all_inner_texts()
    return table.locator(f"tbody tr td:nth-child({header.index(name) + 1})").all_inner_texts()


def test_asset_graph_shows_every_group(dagster_ui: str, page: Page, sample_run: SampleRun) -> None:
    """The global asset lineage lists every asset group of the definitions, by name in its
    sidebar and as a node of the graph, and no other group."""
    graph = build_definitions(sample_run.config_path).resolve_asset_graph()
    groups = {graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert len(groups) > 1, groups  # the project's assets are spread over named groups

    page.goto(f"{dagster_ui}/asset-groups")
    # The sidebar's group entries: an asset_group icon beside the group's full name (the
    # graph's node labels are truncated, e.g. "custom…_analytics", so the name is read
    # from the title and the node from its tooltip).
    sidebar = page.locator("button:has([aria-label='asset_group']) [title]")
    for group in sorted(groups):
        expect(sidebar.and_(page.locator(f"[title='{group}']"))).to_be_visible()
        expect(page.locator(f"[data-tooltip='{group}']")).to_be_visible()
    expect(sidebar).to_have_count(len(groups))
    assert {sidebar.nth(i).get_attribute("title") for i in range(len(groups))} == groups
    screenshot(page, "asset_graph")


def test_snapshot_partition_shows_its_own_metadata(
    dagster_ui: str, page: Page, sample_run: SampleRun
) -> None:
    """A snapshot asset's partition page shows that date's own metadata: its customer count
    (as in the lake's partition, different from the other date's) and a preview of its own
    rows, though the dates were materialized together in one range run."""
    counts = {date: lake_count(sample_run, date) for date in DATES}
    # Otherwise the page could show one figure for every date and still pass.
    assert len(set(counts.values())) == len(DATES), counts

    for date in DATES:
        path = lake_partition(sample_run, date)
        ids = duckdb.sql(f"SELECT customer_id FROM read_parquet('{path}') ORDER BY 1").fetchall()
        first_ids = [row[0] for row in ids[:PREVIEW_ROWS]]  # the preview's rows
        page.goto(f"{dagster_ui}/assets/{ASSET}?view=partitions&partition={date}")
        # The detail pane is this date's: its heading carries the date and its status.
        expect(
            page.locator(f"[data-tooltip='{date}']").filter(has_text="Materialized")
        ).to_be_visible()
        expect(metadata_value(page, "customers")).to_have_text(str(counts[date]))
        expect(metadata_value(page, "dagster/row_count")).to_have_text(str(counts[date]))
        screenshot(page, f"partition_{date}")

        # The preview (Markdown metadata, opened in a dialog) holds this date's rows only.
        metadata_value(page, "preview").get_by_text("Show Markdown").click()
        dialog = page.get_by_role("dialog")
        expect(dialog.locator("tbody tr")).to_have_count(len(first_ids))
        assert {text.split()[0] for text in column(dialog, "snapshot_date")} == {date}
        assert column(dialog, "customer_id") == first_ids
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()


def test_checks_tab_shows_per_partition_results(
    dagster_ui: str, page: Page, sample_run: SampleRun
) -> None:
    """The Checks tab of a snapshot asset shows its check's result on every partition (all
    passed, none missing), and one partition's result carries that date's own figures."""
    spec = build_definitions(sample_run.config_path).resolve_asset_graph().get(dg.AssetKey(ASSET))
    partitions = spec.partitions_def.get_partition_keys()
    assert len(partitions) > 1 and sample_run.last in partitions, partitions
    date = DATES[0]
    rows = lake_count(sample_run, date)

    page.goto(f"{dagster_ui}/assets/{ASSET}?view=checks")
    # Into the check, then its Partitions tab (the asset's own Partitions tab is a link).
    page.get_by_text(CHECK, exact=True).first.click()
    expect(page).to_have_url(f"{dagster_ui}/assets/{ASSET}?view=checks&checkDetail={CHECK}")
    page.locator("button[role=tab]", has_text="Partitions").click()
    # One evaluation per date, every one passed: the status filter counts partitions.
    expect(page.get_by_text(f"Passed ({len(partitions)})", exact=True)).to_be_visible()
    for status in ("Failed", "Execution Failed", "Missing", "In Progress", "Skipped"):
        expect(page.get_by_text(f"{status} (0)", exact=True)).to_be_visible()
    # and the list beside it has an entry for each date
    for key in partitions:
        expect(page.locator(f"[data-tooltip='{key}'] > [title='{key}']")).to_have_count(1)

    # One partition's result: passed, with that date's own counts as its metadata.
    page.get_by_text(date, exact=True).first.click()
    # The detail's heading: the date and its result (the list's entries have no status tag).
    heading = page.locator(f"div:has(> span > [title='{date}'])")
    expect(heading).to_have_count(1)
    expect(heading).to_contain_text("Passed")
    expect(metadata_value(page, "rows_checked")).to_have_text(str(rows))
    expect(metadata_value(page, "rows_failing")).to_have_text("0")
    # Clicking a date low in the list scrolled the page: back up to the counts and heading.
    page.get_by_text(f"Passed ({len(partitions)})", exact=True).scroll_into_view_if_needed()
    screenshot(page, "checks")
