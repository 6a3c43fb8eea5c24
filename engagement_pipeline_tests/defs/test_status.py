"""The command line's status text (defs/status.py)."""

from engagement_pipeline.defs.status import (
    AssetStatus,
    FailingCheck,
    PipelineStatus,
    date_ranges,
    status_text,
)


def test_date_ranges_join_consecutive_days():
    keys = ["2025-01-03", "2025-01-01", "2025-01-02", "2025-01-05"]
    assert date_ranges(keys) == [("2025-01-01", "2025-01-03"), ("2025-01-05", "2025-01-05")]


def test_failing_checks_say_error_or_warning_and_count_their_dates():
    status = PipelineStatus(
        [AssetStatus("customer_clv", [("2025-01-01", "2025-01-03")], "abcdef123456", "SUCCESS")],
        ("abcdef123456", "SUCCESS", "2025-01-04 02:00 UTC"),
        [
            FailingCheck("customer_clv", "model_fitted", ["2025-01-01", "2025-01-02"], False),
            FailingCheck("raw_purchases", "keys_not_null", ["2025-01-02"], True),
        ],
    )
    text = status_text(status)
    assert "Latest run: abcdef12 SUCCESS (started 2025-01-04 02:00 UTC)" in text
    assert "customer_clv.model_fitted (warning): 2 dates (2025-01-01 .. 2025-01-02)" in text
    # one date is "1 date"; a blocking check is an error
    assert "raw_purchases.keys_not_null (error): 1 date (2025-01-02)\n" in text
