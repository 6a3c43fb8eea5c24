import datetime as dt
from pathlib import Path

import pytest

from engagement_pipeline.analytics.clv_holdout import evaluate_holdout, holdout_markdown
from engagement_pipeline.cli import main
from engagement_pipeline.config import load_config

CDNOW = Path(__file__).resolve().parents[2] / "data" / "cdnow" / "config.yaml"


def test_cdnow_holdout():
    e = evaluate_holdout(load_config(CDNOW), dt.date(1997, 9, 30), dt.date(1998, 6, 30))
    c = e.customers.set_index("customer_id")
    # customer 0001 bought on 1997-12-12 in the holdout (1 transaction day)
    assert c.loc["0001", "actual"] == 1
    assert e.totals["actual_total"] == c["actual"].sum() == 1882
    assert e.totals["predicted_total"] == pytest.approx(c["predicted"].sum())
    assert 0.5 < e.totals["correlation"] < 1 and e.totals["mae"] > 0
    buckets = e.by_frequency.set_index("bucket")
    assert list(buckets.index) == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert buckets["customers"].sum() == 2357 and buckets.loc["0", "customers"] == 1411
    # the bucket means track the actuals (the paper's Figure 4): within 0.4 transactions
    assert ((buckets["predicted"] - buckets["actual"]).abs() < 0.4).all()
    assert "| 7+ | 64 |" in holdout_markdown(e)


def test_cli_writes_the_evaluation(tmp_path, capsys):
    out = tmp_path / "holdout.md"
    args = [
        "--config",
        str(CDNOW),
        "clv-holdout",
        "--calibration-end",
        "1997-09-30",
        "--holdout-end",
        "1998-06-30",
    ]
    assert main([*args, "--out", str(out)]) == 0
    assert out.read_text().startswith("# BG/NBD holdout evaluation")
    assert (
        main(
            [
                "--config",
                str(CDNOW),
                "clv-holdout",
                "--calibration-end",
                "1998-01-01",
                "--holdout-end",
                "1997-01-01",
            ]
        )
        == 2
    )
    assert "must be after" in capsys.readouterr().err
