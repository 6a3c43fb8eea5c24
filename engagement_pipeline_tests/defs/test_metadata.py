"""Per-partition previews: each date's first rows in the asset's order, whichever way the
rows are held (a computed table or a lazy relation)."""

from __future__ import annotations

import pytest

from engagement_pipeline.defs.metadata import PREVIEW_ROWS, figure, partition_previews
from engagement_pipeline.sql import new_connection

KEYS = ["2025-03-01", "2025-03-02", "2025-03-03"]


@pytest.fixture
def con():
    con = new_connection()
    # 25 customers on each of two dates, inserted out of order; the third date has none
    con.execute(
        """CREATE TEMP TABLE rows_table AS
           SELECT DATE '2025-03-01' + CAST(i % 2 AS INTEGER) AS snapshot_date,
                  'C' || lpad(CAST((i * 7) % 50 AS VARCHAR), 2, '0') AS customer_id,
                  [i, i + 1] AS path, i AS score
           FROM range(50) t(i)"""
    )
    return con


def expected_ids(con, key: str, order: str) -> list[str]:
    return [
        r[0]
        for r in con.sql(
            f"SELECT customer_id FROM rows_table WHERE snapshot_date = DATE '{key}' "
            f"ORDER BY {order} LIMIT {PREVIEW_ROWS}"
        ).fetchall()
    ]


def previewed_ids(markdown: str) -> list[str]:
    header, _rule, *body = markdown.splitlines()
    column = header.strip("| ").split(" | ").index("customer_id")
    return [line.strip("| ").split(" | ")[column] for line in body]


@pytest.mark.parametrize("held_as", ["table", "lazy"])
@pytest.mark.parametrize("order", ["customer_id", "score DESC, customer_id"])
def test_each_date_shows_its_first_rows_in_order(con, held_as, order):
    table = con.table("rows_table")
    rel = table if held_as == "table" else table.filter("true")  # a lazy relation
    assert (rel.type == "TABLE_RELATION") == (held_as == "table")
    previews = partition_previews(rel, KEYS, order)
    for key in KEYS[:2]:
        ids = expected_ids(con, key, order)
        assert len(ids) == PREVIEW_ROWS
        assert previewed_ids(previews[key].value) == ids
    assert previews[KEYS[2]].value == "no rows"


def test_figures_lose_float_noise_but_not_cents():
    # sums of money as the report's metadata had them (total_revenue 223.23999999999998)
    assert figure(sum([0.1] * 3)) == 0.3
    assert figure(223.23999999999998) == 223.24
    assert figure(714.0000000000001) == 714.0
    assert figure(1234.56) == 1234.56
