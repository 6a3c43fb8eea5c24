"""The full computation of every stage (the API's path, without the lake)."""

import datetime as dt

from engagement_pipeline.config import load_config
from engagement_pipeline.ingestion.events import validate_events
from engagement_pipeline.ingestion.purchases import validate_purchases
from engagement_pipeline.sql import new_connection
from engagement_pipeline.stages import RAW_ENGAGEMENT_EVENTS, RAW_PURCHASES, STAGES, run_stages
from engagement_pipeline_tests.conftest import ev, po
from engagement_pipeline_tests.defs.test_assets import EVENTS, PURCHASES


def test_every_stage_is_computed_once_into_a_table(make_project):
    """Each stage's rows are a table its readers share, not a view: a view repeats its whole
    chain of stages in every query that reads it (the API's analysis of the shipped sample
    took 20 s that way, 4 s with tables)."""
    config = load_config(make_project(EVENTS, PURCHASES, end="2025-01-05"))
    con = new_connection()
    first, last = config.snapshots.start_date, config.snapshots.end_date
    raw = {
        RAW_ENGAGEMENT_EVENTS: validate_events(con, config, first, last).loaded,
        RAW_PURCHASES: validate_purchases(con, config, first, last).loaded,
    }
    dates = [last - dt.timedelta(days=1), last]
    computed = run_stages(con, raw, dates, config)
    for stage in STAGES:
        relation = computed[stage.name]
        assert relation.type == "TABLE_RELATION", stage.name
        days = {d for (d,) in relation.aggregate("CAST(snapshot_date AS DATE)", "1").fetchall()}
        assert days <= set(dates), stage.name
    # the tables hold the rows: each buyer's revenue on both dates (the refund quarantined;
    # bob's order on 2025-01-04 is in both)
    revenue = computed["customer_ltv"].order("snapshot_date, customer_id")
    assert revenue.select("CAST(snapshot_date AS DATE), customer_id, total_revenue").fetchall() == [
        (dt.date(2025, 1, 4), "alice", 120.0),
        (dt.date(2025, 1, 4), "bob", 30.0),
        (dt.date(2025, 1, 5), "alice", 120.0),
        (dt.date(2025, 1, 5), "bob", 30.0),
    ]


def test_every_stage_gives_the_same_rows_whatever_order_the_raw_rows_come_in(make_project):
    """Same inputs, same outputs, to the last bit: a stage's sums of money and shares may not
    depend on the order rows reach them (which DuckDB's threads do not fix). Three buyers
    of one path and cohort spend 0.1, 0.2 and 0.3, which a plain float sum adds up to
    0.6000000000000001 in that order and to 0.6 in the other; one thread here, so the
    raw tables' order is the order of the sums."""
    buyers = ("ann", "ben", "cat")
    events = [
        event
        for i, who in enumerate(buyers)
        for event in (
            ev(f"w{i}", who, "web", "2025-01-01 09:00"),
            ev(f"m{i}", who, "email", "2025-01-02 09:00"),
        )
    ]
    purchases = [
        po(f"o{i}", who, "2025-01-03 10:00", amount)
        for i, (who, amount) in enumerate(zip(buyers, ("0.1", "0.2", "0.3"), strict=True))
    ]
    config = load_config(make_project(events, purchases, end="2025-01-05"))
    con = new_connection(threads=1)
    first, last = config.snapshots.start_date, config.snapshots.end_date
    validate_events(con, config, first, last).loaded.create("events_in")
    purchases_rel = validate_purchases(con, config, first, last).loaded
    outputs = []
    for order in ("amount", "amount DESC"):
        ordered = f"purchases_{len(outputs)}"
        purchases_rel.order(order).create(ordered)
        computed = run_stages(
            con,
            {RAW_ENGAGEMENT_EVENTS: con.table("events_in"), RAW_PURCHASES: con.table(ordered)},
            [last],
            config,
        )
        outputs.append({s.name: computed[s.name].order("ALL").fetchall() for s in STAGES})
    up, down = outputs
    for stage in STAGES:
        assert up[stage.name] == down[stage.name], stage.name
    # the money is all there, once: the cohort's month of revenue is 0.6 both ways
    cohort = {row[2]: row[6] for row in up["cohort_retention"]}
    assert cohort[0] == 0.6
