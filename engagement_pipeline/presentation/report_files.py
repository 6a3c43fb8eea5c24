"""One date's report in one format, from the lake (`engagement-pipeline report`)."""

from __future__ import annotations

import datetime as dt
import json

from engagement_pipeline.analytics.report import render_markdown
from engagement_pipeline.config import Config
from engagement_pipeline.errors import LakeError
from engagement_pipeline.presentation.html_report import render_html
from engagement_pipeline.presentation.lake_reader import LakeReader

RENDERERS = {
    "md": render_markdown,
    "html": render_html,
    "json": lambda document: json.dumps(document, indent=2) + "\n",
}


def render_report(config: Config, day: dt.date, fmt: str) -> str:
    """The report of `day` as Markdown, HTML or JSON, built from the lake's assets of that
    date (the same document the report asset writes)."""
    reader = LakeReader(config)
    dates = reader.dates()
    if day.isoformat() not in dates:
        have = f"it has {dates[0]} .. {dates[-1]}" if dates else "it has no snapshot yet"
        raise LakeError(
            f"The lake {config.lake_location} has no complete snapshot for {day} ({have}). "
            f"Materialize that date first: `engagement-pipeline run --from {day} --to {day}`."
        )
    return RENDERERS[fmt](reader.document(day.isoformat()))
