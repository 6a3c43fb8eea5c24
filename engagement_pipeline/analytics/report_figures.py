"""The figures behind the report's pictures that its tables do not hold: the distributions
of LTV, predicted CLV and engagement score, the RFM grid and the anomaly timeline, as
JSON-ready rows per snapshot date (the HTML report and the dashboard draw them)."""

from __future__ import annotations

from typing import Any

import duckdb

from engagement_pipeline.analytics.intelligence_report import rows_by_date
from engagement_pipeline.sql import exact_mean

HISTOGRAM_BINS = 20
# Money is cut at its 99th percentile (the last bin holds the tail), so one very large
# customer does not squeeze everyone else into the first bin; scores live in [0, 1].
DISTRIBUTIONS = {  # measure -> (which customers, the upper edge of the bins)
    "lifetime_value": ("purchase_count > 0", "quantile_cont(x, 0.99)"),
    "predicted_clv": ("predicted_clv IS NOT NULL", "quantile_cont(x, 0.99)"),
    "engagement_score": ("true", "1.0"),
}
FIGURE_SECTIONS = ("distributions", "rfm_grid", "anomaly_timeline")


def _distribution_sql(view: str) -> str:
    parts = [
        f"""SELECT CAST(snapshot_date AS DATE) AS snapshot_date, '{measure}' AS measure,
                   CAST({measure} AS DOUBLE) AS x
            FROM {view} WHERE {who} AND {measure} IS NOT NULL"""
        for measure, (who, _) in DISTRIBUTIONS.items()
    ]
    edges = " ".join(
        f"WHEN '{measure}' THEN {edge}" for measure, (_, edge) in DISTRIBUTIONS.items()
    )
    bins = HISTOGRAM_BINS
    return f"""
        WITH values AS ({" UNION ALL ".join(parts)}),
        edges AS (
            SELECT snapshot_date, measure,
                   greatest(CASE measure {edges} END, 1e-9) / {bins} AS width
            FROM values GROUP BY snapshot_date, measure
        ),
        binned AS (
            SELECT v.snapshot_date, v.measure, e.width,
                   CAST(least(greatest(floor(v.x / e.width), 0), {bins - 1}) AS INTEGER) AS bin
            FROM values v JOIN edges e USING (snapshot_date, measure)
        )
        SELECT snapshot_date, measure, bin, bin * width AS bin_low, (bin + 1) * width AS bin_high,
               bin = {bins - 1} AND measure <> 'engagement_score' AS open_ended,
               count(*) AS customers
        FROM binned GROUP BY ALL ORDER BY snapshot_date, measure, bin
    """


def figure_sections(
    con: duckdb.DuckDBPyConnection,
    segments: duckdb.DuckDBPyRelation,
    rfm: duckdb.DuckDBPyRelation,
    timeline: duckdb.DuckDBPyRelation,
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """date -> section -> rows:

    - distributions: per measure (lifetime_value of purchasing customers, predicted_clv
      where the model fitted, engagement_score of everyone) HISTOGRAM_BINS equal bins up
      to the 99th percentile (money; the last bin is open-ended) or 1 (the score);
    - rfm_grid: purchasing customers per recency and frequency score, with their average
      monetary value;
    - anomaly_timeline: every judged metric of the timeline's days (anomaly_timeline).
    """
    for name, rel in (("segments", segments), ("rfm", rfm), ("timeline", timeline)):
        rel.create_view(f"_figures_{name}", replace=True)
    sections = {
        "distributions": rows_by_date(con, _distribution_sql("_figures_segments")),
        "rfm_grid": rows_by_date(
            con,
            f"""SELECT CAST(snapshot_date AS DATE) AS snapshot_date, r_score, f_score,
                      count(*) AS customers, {exact_mean("monetary")} AS avg_monetary
               FROM _figures_rfm GROUP BY ALL ORDER BY snapshot_date, r_score, f_score""",
        ),
        "anomaly_timeline": rows_by_date(
            con,
            """SELECT CAST(snapshot_date AS DATE) AS snapshot_date, CAST(day AS DATE) AS day,
                      metric, value, expected_low, expected_high, score, is_anomaly, direction
               FROM _figures_timeline ORDER BY snapshot_date, metric, day""",
        ),
    }
    dates = sections["distributions"].keys()
    return {day: {name: rows.get(day, []) for name, rows in sections.items()} for day in dates}
