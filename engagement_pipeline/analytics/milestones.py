"""Customer milestones: acquisition, active months, funnel stages reached; and from them the
cohort retention matrix and the funnel.

Milestones are per-customer state, incremental like the other snapshots (see
analytics/state.py): the acquisition date is the first active day (min), an active month is
counted on its first active day, a funnel stage reached by events is the first matching
event's day (min), one reached by purchases is the day the running purchase count got there.

The cohort matrix at D counts, per acquisition month and month since acquisition, the
customers active in that month and the revenue they spent, up to and including D. It is a
fold too: the matrix of D-1 plus day D's new active months and revenue, which are columns of
customer_milestones; without the previous matrix it is the same sums over the whole history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import duckdb

from engagement_pipeline.analytics.dates import snapshot_dates
from engagement_pipeline.analytics.state import StateSpec, day_before, fold_state
from engagement_pipeline.config import CohortsConfig, FunnelConfig, FunnelStage
from engagement_pipeline.sql import exact_sum, quote_ident, quote_literal, values_sql

STAGE_DATE = "{}_date"  # the customer_milestones column of a funnel stage


def stage_column(stage: FunnelStage) -> str:
    return STAGE_DATE.format(stage.name)


def milestone_spec(funnel: FunnelConfig) -> StateSpec:
    events = {stage_column(s): "min" for s in funnel.stages if s.min_purchases is None}
    return StateSpec(
        {
            "acquisition_date": "min",
            "last_active_date": "max",
            "active_months": "sum",
            "purchase_count": "sum",
            "revenue": "sum",
            **events,
        },
        reached={
            stage_column(s): ("purchase_count", s.min_purchases)
            for s in funnel.stages
            if s.min_purchases is not None
        },
    )


def _event_match_sql(stage: FunnelStage) -> str:
    conditions = []
    if stage.touchpoints:
        conditions.append(f"touchpoint IN {values_sql(t.value for t in stage.touchpoints)}")
    if stage.event_types:
        conditions.append(f"event_type IN {values_sql(stage.event_types)}")
    return " AND ".join(conditions) or "true"


def activity_days(
    con: duckdb.DuckDBPyConnection,
    events: duckdb.DuckDBPyRelation,
    purchases: duckdb.DuckDBPyRelation,
    cohorts: CohortsConfig,
    funnel: FunnelConfig,
    previous: duckdb.DuckDBPyRelation | None,
) -> duckdb.DuckDBPyRelation:
    """One row per customer and day with activity: whether the day is active, whether it
    opens an active month (the customer's first active day of that calendar month), the
    day's orders and revenue, and the day of each event stage matched that day.

    `previous` (the milestones of the day before the rows start) gives each customer's
    last active day before them; without it the rows are the whole history."""
    seen = events  # noqa: F841 - referenced by name in the SQL below
    bought = purchases  # noqa: F841 - referenced by name in the SQL below
    event_stages = [s for s in funnel.stages if s.min_purchases is None]
    stage_days = "".join(
        f", max(CASE WHEN {_event_match_sql(s)} THEN snapshot_date END) AS {quote_ident(stage_column(s))}"
        for s in event_stages
    )
    stage_nulls = "".join(f", NULL::DATE AS {quote_ident(stage_column(s))}" for s in event_stages)
    stage_cols = "".join(
        f", max({quote_ident(stage_column(s))}) AS {quote_ident(stage_column(s))}"
        for s in event_stages
    )
    events_count = "true" if cohorts.acquisition == "first_engagement" else "false"
    carried = previous.project("customer_id, last_active_date") if previous is not None else None
    last_before = (  # noqa: F841 - referenced by name in the SQL below
        carried
        if carried is not None
        else con.sql(
            "SELECT NULL::VARCHAR AS customer_id, NULL::DATE AS last_active_date WHERE false"
        )
    )
    return con.sql(
        f"""
        WITH per_source AS (
            SELECT customer_id, snapshot_date AS day, {events_count} AS active,
                   0 AS orders, 0.0 AS day_revenue{stage_days}
            FROM seen GROUP BY customer_id, snapshot_date
            UNION ALL
            SELECT customer_id, snapshot_date, true, count(*), {exact_sum("amount")}{stage_nulls}
            FROM bought GROUP BY customer_id, snapshot_date
        ),
        days AS (
            SELECT customer_id, day, bool_or(active) AS active, CAST(sum(orders) AS BIGINT) AS orders,
                   {exact_sum("day_revenue")} AS day_revenue{stage_cols}
            FROM per_source GROUP BY customer_id, day
        ),
        opened AS (
            SELECT d.customer_id, d.day,
                   coalesce(lag(d.day) OVER (PARTITION BY d.customer_id ORDER BY d.day),
                            l.last_active_date) AS previous_active_day
            FROM days d LEFT JOIN last_before l USING (customer_id)
            WHERE d.active
        )
        SELECT d.*, coalesce(
                   o.day IS NOT NULL AND (o.previous_active_day IS NULL OR
                   date_trunc('month', o.previous_active_day) <> date_trunc('month', o.day)),
                   false) AS opens_month
        FROM days d LEFT JOIN opened o USING (customer_id, day)
        """
    )


def compute_milestones(
    con: duckdb.DuckDBPyConnection,
    events: duckdb.DuckDBPyRelation,
    purchases: duckdb.DuckDBPyRelation,
    dates: Sequence[dt.date],
    cohorts: CohortsConfig,
    funnel: FunnelConfig,
    earlier: duckdb.DuckDBPyRelation | None = None,
) -> duckdb.DuckDBPyRelation:
    """One row per customer (seen by then) and snapshot date: acquisition date and cohort
    month, last active day, active months, orders and revenue to date, the day each funnel
    stage was reached, and what the date itself added (a new active month, revenue), which
    the cohort matrix sums.

    Incremental: `earlier` holds this asset's rows of the day before the first date, and
    the raw rows only the run's days. Without it they are the whole history."""
    first = min(dates)
    previous = day_before(earlier, first)
    active_days = activity_days(con, events, purchases, cohorts, funnel, previous)  # noqa: F841
    spec = milestone_spec(funnel)
    event_stages = [stage_column(s) for s in funnel.stages if s.min_purchases is None]
    deltas = con.sql(  # noqa: F841 - referenced by name in fold_state's SQL
        f"""
        SELECT customer_id, day AS effective_date,
               CASE WHEN active THEN day END AS acquisition_date,
               CASE WHEN active THEN day END AS last_active_date,
               CAST(opens_month AS BIGINT) AS active_months,
               orders AS purchase_count, day_revenue AS revenue
               {"".join(f", {quote_ident(c)}" for c in event_stages)}
        FROM active_days
        """
    )
    state_columns = ", ".join(quote_ident(c) for c in [*spec.columns, *spec.reached])
    start = previous.project(f"customer_id, {state_columns}") if previous is not None else None
    folded = fold_state(con, spec, deltas, dates, start)  # noqa: F841
    run_dates = snapshot_dates(con, dates)  # noqa: F841 - referenced by name in the SQL below
    stage_cols = ", ".join(f"f.{quote_ident(stage_column(s))}" for s in funnel.stages)
    return con.sql(
        f"""
        SELECT f.snapshot_date, f.customer_id, f.acquisition_date,
               CAST(date_trunc('month', f.acquisition_date) AS DATE) AS cohort_month,
               f.last_active_date, CAST(coalesce(f.active_months, 0) AS BIGINT) AS active_months,
               CAST(coalesce(f.purchase_count, 0) AS BIGINT) AS purchase_count,
               CAST(coalesce(f.revenue, 0) AS DOUBLE) AS revenue,
               {stage_cols},
               coalesce(a.opens_month, false) AS opens_month_today,
               CAST(coalesce(a.day_revenue, 0) AS DOUBLE) AS revenue_today
        FROM folded f
        LEFT JOIN active_days a
          ON a.customer_id = f.customer_id AND a.day = f.snapshot_date
        WHERE f.snapshot_date IN (SELECT snapshot_date FROM run_dates)
        ORDER BY f.snapshot_date, f.customer_id
        """
    )


# -- the cohort matrix ----------------------------------------------------------------------

MONTHS_SINCE = "datediff('month', {cohort}, {day})"


def _matrix_deltas_from_milestones(milestones: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """What each date adds to each cell: new active customers and revenue."""
    months = MONTHS_SINCE.format(cohort="cohort_month", day="snapshot_date")
    return milestones.filter("opens_month_today OR revenue_today <> 0").aggregate(
        f"snapshot_date AS day, cohort_month, CAST({months} AS INTEGER) AS months_since, "
        "CAST(count(*) FILTER (WHERE opens_month_today) AS BIGINT) AS active, "
        f"{exact_sum('revenue_today')} AS revenue",
        "ALL",
    )


def _matrix_deltas_from_history(
    con: duckdb.DuckDBPyConnection,
    events: duckdb.DuckDBPyRelation,
    purchases: duckdb.DuckDBPyRelation,
    cohorts: CohortsConfig,
    funnel: FunnelConfig,
) -> duckdb.DuckDBPyRelation:
    """The same deltas from the whole history: each customer's cohort is the month of their
    first active day."""
    history_days = activity_days(con, events, purchases, cohorts, funnel, None)  # noqa: F841
    months = MONTHS_SINCE.format(cohort="cohort_month", day="day")
    return con.sql(
        f"""
        WITH dated AS (
            SELECT *, CAST(date_trunc('month', min(day) FILTER (WHERE active)
                      OVER (PARTITION BY customer_id)) AS DATE) AS cohort_month
            FROM history_days
        )
        SELECT day, cohort_month, CAST({months} AS INTEGER) AS months_since,
               CAST(count(*) FILTER (WHERE opens_month) AS BIGINT) AS active,
               {exact_sum("day_revenue")} AS revenue
        FROM dated WHERE cohort_month IS NOT NULL AND (opens_month OR day_revenue <> 0)
        GROUP BY ALL
        """
    )


def compute_cohort_matrix(
    con: duckdb.DuckDBPyConnection,
    events: duckdb.DuckDBPyRelation,
    purchases: duckdb.DuckDBPyRelation,
    milestones: duckdb.DuckDBPyRelation,
    dates: Sequence[dt.date],
    cohorts: CohortsConfig,
    funnel: FunnelConfig,
    earlier: duckdb.DuckDBPyRelation | None = None,
) -> duckdb.DuckDBPyRelation:
    """One row per snapshot date, acquisition month and month since acquisition that can be
    observed by then (0 .. the months from the cohort's month to the date's): the cohort's
    size, its customers active in that month, their share, the month's revenue and the
    cumulative revenue per cohort customer. Cells not observable yet have no row.

    Incremental: `earlier` holds this asset's rows of the day before the first date and
    `milestones` the run's dates (their opens_month_today and revenue_today). Without it,
    events and purchases are the whole history."""
    first = min(dates)
    previous = day_before(earlier, first)
    if previous is None:
        deltas = _matrix_deltas_from_history(con, events, purchases, cohorts, funnel)
    else:
        deltas = _matrix_deltas_from_milestones(milestones)
    start_day = quote_literal((first - dt.timedelta(days=1)).isoformat())
    carried = (  # noqa: F841 - referenced by name in the SQL below
        previous.project(
            f"DATE {start_day} AS day, cohort_month, months_since, "
            "active_customers AS active, revenue"
        )
        if previous is not None
        else con.sql(
            "SELECT NULL::DATE AS day, NULL::DATE AS cohort_month, NULL::INTEGER AS months_since, "
            "NULL::BIGINT AS active, NULL::DOUBLE AS revenue WHERE false"
        )
    )
    added = deltas  # noqa: F841 - referenced by name in the SQL below
    run_dates = snapshot_dates(con, dates)  # noqa: F841 - referenced by name in the SQL below
    months = MONTHS_SINCE.format(cohort="c.cohort_month", day="d.snapshot_date")
    return con.sql(
        f"""
        WITH rows AS (
            SELECT * FROM carried UNION ALL SELECT * FROM added
        ),
        cells AS (  -- each cell's totals as of every run date
            SELECT d.snapshot_date, r.cohort_month, r.months_since,
                   CAST(sum(r.active) AS BIGINT) AS active, {exact_sum("r.revenue")} AS revenue
            FROM run_dates d JOIN rows r ON r.day <= d.snapshot_date
            GROUP BY ALL
        ),
        cohorts AS (
            SELECT snapshot_date, cohort_month, active AS cohort_customers
            FROM cells WHERE months_since = 0 AND active > 0
        ),
        grid AS (  -- every observable cell of every cohort, empty ones included
            SELECT c.snapshot_date, c.cohort_month, c.cohort_customers,
                   CAST(unnest(range(0, {months} + 1)) AS INTEGER) AS months_since
            FROM cohorts c JOIN run_dates d USING (snapshot_date)
        ),
        filled AS (
            SELECT g.snapshot_date, g.cohort_month, g.months_since, g.cohort_customers,
                   coalesce(x.active, 0) AS active_customers,
                   CAST(coalesce(x.revenue, 0) AS DOUBLE) AS revenue
            FROM grid g LEFT JOIN cells x USING (snapshot_date, cohort_month, months_since)
        )
        SELECT snapshot_date, cohort_month, months_since, cohort_customers, active_customers,
               active_customers / cohort_customers AS retention_rate, revenue,
               {exact_sum("revenue", over="PARTITION BY snapshot_date, cohort_month ORDER BY months_since")}
                   / cohort_customers AS cumulative_revenue_per_customer
        FROM filled
        ORDER BY snapshot_date, cohort_month, months_since
        """
    )


# -- the funnel -------------------------------------------------------------------------------


def compute_funnel(
    con: duckdb.DuckDBPyConnection, milestones: duckdb.DuckDBPyRelation, funnel: FunnelConfig
) -> duckdb.DuckDBPyRelation:
    """One row per snapshot date and funnel stage: customers who reached it (and every stage
    before it, on or before the day they reached it), their share of all customers seen,
    the conversion from the stage before, and the median days from the stage before."""
    stages = funnel.stages
    # a stage counts only when every earlier stage was reached on or before it
    reached = []
    for i, stage in enumerate(stages):  # over the configured stages, not over rows
        own = quote_ident(stage_column(stage))
        if i == 0:
            reached.append(own)
        else:
            reached.append(
                f"CASE WHEN {reached[-1]} IS NOT NULL AND {own} >= {reached[-1]} THEN {own} END"
            )
    reached_cols = ", ".join(f"{sql} AS r{i}" for i, sql in enumerate(reached))
    per_stage = " UNION ALL ".join(
        f"""SELECT snapshot_date, {i + 1} AS stage_order, {quote_literal(s.name)} AS stage,
                   count(*) AS customers, count(r{i}) AS reached,
                   {f"count(r{i - 1})" if i else "count(*)"} AS reached_before,
                   {f"median(datediff('day', r{i - 1}, r{i}))" if i else "NULL::DOUBLE"}
                       AS median_days_from_previous
            FROM staged GROUP BY snapshot_date"""
        for i, s in enumerate(stages)
    )
    source = milestones  # noqa: F841 - referenced by name in the SQL below
    return con.sql(
        f"""
        WITH staged AS (SELECT snapshot_date, {reached_cols} FROM source),
        counted AS ({per_stage})
        SELECT snapshot_date, CAST(stage_order AS INTEGER) AS stage_order, stage,
               CAST(reached AS BIGINT) AS customers_reached,
               CAST(customers AS BIGINT) AS customers_seen,
               reached / nullif(customers, 0) AS share_of_customers,
               CASE WHEN stage_order = 1 THEN NULL ELSE reached / nullif(reached_before, 0) END
                   AS conversion_from_previous,
               CAST(median_days_from_previous AS DOUBLE) AS median_days_from_previous
        FROM counted
        ORDER BY snapshot_date, stage_order
        """
    )
