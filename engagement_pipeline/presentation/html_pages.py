"""Many dates' HTML reports at once, spread over the machine's cores.

A page is mostly chart rendering (vl-convert, about 40 ms a chart and a dozen charts a
page), and vl-convert holds Python's lock while it draws, so threads would not help: a
backfill's pages are shared between this process and worker processes. Each worker is a
fresh `python -m engagement_pipeline.presentation.html_pages` fed its documents as JSON;
a fresh interpreter (not a fork) so no DuckDB or Dagster state is copied into it and the
caller's own script is never re-run. Pages do not depend on which process drew them
(`html_report.own_ids`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from engagement_pipeline.presentation.html_report import render_html

# A worker starts in about 1.5 s (imports and vl-convert's engine), the time of two pages:
# below this many pages each, it would not pay for itself.
PAGES_PER_WORKER = 4
PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def usable_cores() -> int:
    """The cores this process may run on (a container's share, not the host's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def render_html_pages(documents: Sequence[dict[str, Any]]) -> list[str]:
    """Each document's HTML page (`render_html`), in the documents' order."""
    shares = min(usable_cores(), len(documents) // PAGES_PER_WORKER)
    if shares < 2:
        return [render_html(d) for d in documents]
    # share k takes documents k, k + shares, ...: dates alternate, so shares weigh the same
    parts = [list(documents[k::shares]) for k in range(shares)]
    with ThreadPoolExecutor(shares - 1) as threads:
        workers = [threads.submit(_render_elsewhere, part) for part in parts[1:]]
        rendered = [[render_html(d) for d in parts[0]]] + [w.result() for w in workers]
    pages: list[str] = [""] * len(documents)
    for k, share in enumerate(rendered):
        pages[k::shares] = share
    return pages


def _render_elsewhere(documents: list[dict[str, Any]]) -> list[str]:
    """`documents` rendered by a worker process; by this one if the worker fails, so a
    problem with a document is raised here, as it would be without workers."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-m", __name__],
        input=json.dumps(documents),
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        check=False,
    )
    try:
        pages = json.loads(done.stdout) if done.returncode == 0 else None
    except ValueError:  # something else wrote to the worker's output
        pages = None
    if not isinstance(pages, list) or len(pages) != len(documents):
        return [render_html(d) for d in documents]
    return pages


def _main() -> None:
    documents = json.loads(sys.stdin.read())
    json.dump([render_html(d) for d in documents], sys.stdout)


if __name__ == "__main__":
    _main()
