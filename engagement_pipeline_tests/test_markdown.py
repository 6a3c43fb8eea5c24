"""Metadata previews: list cells (journey paths, their times) read as steps."""

import numpy as np
import pandas as pd

from engagement_pipeline.markdown import counted, markdown_table


def test_list_cells_are_joined_steps_and_floats_are_rounded():
    frame = pd.DataFrame(
        {
            "path": [np.array(["email", "search"]), np.array([], dtype=object)],
            "touched_at": [
                np.array(["2025-06-01T09:30:00"], dtype="datetime64[us]"),
                np.array([], dtype="datetime64[us]"),
            ],
            "revenue": [12.5, None],
        }
    )
    lines = markdown_table(frame).splitlines()
    assert lines[2] == "| email > search | 2025-06-01 09:30:00 | 12.50 |"
    assert lines[3] == "| [] | [] |  |"  # empty lists are shown as such; a missing value blank


def test_a_column_of_midnights_shows_dates_and_other_times_keep_theirs():
    frame = pd.DataFrame(
        {
            "snapshot_date": pd.to_datetime(["2025-06-30", "2025-06-30", None]),
            "journey_end": pd.to_datetime(["2025-07-01 00:00:00", "2025-06-30 10:48:30", None]),
        }
    )
    lines = markdown_table(frame).splitlines()
    assert lines[2:] == [
        "| 2025-06-30 | 2025-07-01 00:00:00 |",
        "| 2025-06-30 | 2025-06-30 10:48:30 |",
        "|  |  |",
    ]


def test_a_count_agrees_with_its_noun():
    assert counted(1, "customer") == "1 customer"
    assert counted(0, "customer") == "0 customers"
    assert counted(1204, "purchasing customer") == "1,204 purchasing customers"
    assert counted(2, "day of history", "days of history") == "2 days of history"
