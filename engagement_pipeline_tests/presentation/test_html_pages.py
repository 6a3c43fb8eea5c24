"""A backfill's HTML pages are shared with worker processes and come out as if drawn here."""

import json
import subprocess

import pytest

from engagement_pipeline.presentation import html_pages
from engagement_pipeline.presentation.html_report import render_html
from engagement_pipeline_tests.presentation.test_charts import document

pytestmark = pytest.mark.xdist_group("presentation")


def documents(n: int) -> list[dict]:
    return [document() | {"snapshot_date": f"2025-04-{d:02d}"} for d in range(1, n + 1)]


@pytest.fixture
def two_cores(monkeypatch):
    monkeypatch.setattr(html_pages, "usable_cores", lambda: 2)


@pytest.fixture
def cheap_pages(monkeypatch):
    """A page that is its date: what is drawn where, without drawing charts."""
    monkeypatch.setattr(html_pages, "render_html", lambda d: f"page of {d['snapshot_date']}")


def test_pages_drawn_by_a_worker_are_the_pages_drawn_here_in_order(monkeypatch, two_cores):
    monkeypatch.setattr(html_pages, "PAGES_PER_WORKER", 1)
    ran = []
    real_run = subprocess.run
    monkeypatch.setattr(
        html_pages.subprocess, "run", lambda *a, **k: ran.append(a) or real_run(*a, **k)
    )
    docs = documents(2)
    pages = html_pages.render_html_pages(docs)
    assert len(ran) == 1  # two shares: this process and one worker (a real one)
    assert pages == [render_html(d) for d in docs]


def test_shares_alternate_dates_and_pages_return_in_date_order(monkeypatch, two_cores, cheap_pages):
    shares = []

    def worker(cmd, input, **kwargs):
        share = [d["snapshot_date"] for d in json.loads(input)]
        shares.append(share)
        out = json.dumps([f"page of {day}" for day in share])
        return subprocess.CompletedProcess(cmd, 0, stdout=out, stderr="")

    monkeypatch.setattr(html_pages.subprocess, "run", worker)
    docs = documents(9)
    assert html_pages.render_html_pages(docs) == [f"page of {d['snapshot_date']}" for d in docs]
    assert shares == [["2025-04-02", "2025-04-04", "2025-04-06", "2025-04-08"]]


def test_few_pages_or_one_core_draw_here_without_a_worker(monkeypatch, cheap_pages):
    monkeypatch.setattr(
        html_pages.subprocess, "run", lambda *a, **k: pytest.fail("no worker expected")
    )
    monkeypatch.setattr(html_pages, "usable_cores", lambda: 2)
    assert len(html_pages.render_html_pages(documents(html_pages.PAGES_PER_WORKER))) == 4
    monkeypatch.setattr(html_pages, "usable_cores", lambda: 1)
    assert len(html_pages.render_html_pages(documents(12))) == 12


@pytest.mark.parametrize("code, output", [(1, ""), (0, "not json"), (0, "[]"), (0, "{}")])
def test_a_worker_that_fails_or_answers_wrongly_leaves_its_pages_to_this_process(
    monkeypatch, two_cores, cheap_pages, code, output
):
    failed = subprocess.CompletedProcess([], code, stdout=output, stderr="Traceback ...")
    monkeypatch.setattr(html_pages.subprocess, "run", lambda *a, **k: failed)
    docs = documents(8)
    assert html_pages.render_html_pages(docs) == [f"page of {d['snapshot_date']}" for d in docs]


def test_a_document_that_cannot_be_drawn_fails_here_as_without_workers(monkeypatch, two_cores):
    monkeypatch.setattr(html_pages, "PAGES_PER_WORKER", 1)
    docs = documents(2)
    del docs[1]["snapshot_date"]  # the worker's share
    with pytest.raises(KeyError, match="snapshot_date"):
        html_pages.render_html_pages(docs)
