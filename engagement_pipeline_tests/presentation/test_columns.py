"""Columns as readers see them: labels in words and values written by kind."""

import math

import pandas as pd
import pytest

from engagement_pipeline.presentation.columns import as_text, formatted, label, numeric


@pytest.mark.parametrize(
    ("value", "kind", "shown"),
    [
        (4598.1386, "money", "$4,598.14"),
        (-12.5, "money", "-$12.50"),
        (0.0501, "share", "5.0%"),
        (11.05, "share", "1105.0%"),  # a return on cost of 1105%
        (1234, "count", "1,234"),
        (77.75, "count", "77.8"),  # an attributed share of conversions
        (0.65164, "score", "0.652"),
        (0.987, "probability", "0.99"),
        (43.9481, "whole", "44"),
        (8.1875, "number", "8.19"),
        (True, "flag", "yes"),
        ("2025-06-30T00:00:00", "date", "2025-06-30"),
        ("At Risk", "text", "At Risk"),
        (None, "money", "–"),
        (math.nan, "share", "–"),
        (pd.NaT, "date", "–"),
    ],
)
def test_a_value_is_written_by_its_kind(value, kind, shown):
    assert formatted(value, kind) == shown


def test_a_column_reads_in_words_listed_or_not():
    assert label("avg_days_since_last_activity") == "Average days inactive"
    assert label("share_of_conversions") == "Share of conversions"
    assert label("days_until_renewal") == "Days until renewal"  # not listed
    assert numeric("total_revenue") and not numeric("segment")


def test_a_table_as_text_has_words_for_columns_and_keys():
    frame = pd.DataFrame(
        {
            "model": ["first_touch", "markov"],
            "conversions": [3.0, 2.5],
            "share_of_conversions": [0.6, 0.4],
        }
    )
    text = as_text(frame)
    assert list(text.columns) == ["Model", "Conversions", "Share of conversions"]
    # a column of counts with a fraction in it has one decimal throughout: 3.0 beside 2.5
    assert text.values.tolist() == [["First touch", "3.0", "60.0%"], ["Markov", "2.5", "40.0%"]]
    whole = as_text(pd.DataFrame({"journeys": [242, 35]}))
    assert whole["Journeys"].tolist() == ["242", "35"]
