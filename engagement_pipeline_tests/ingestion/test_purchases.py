import pandas as pd
import pytest

from engagement_pipeline.config import load_config
from engagement_pipeline.ingestion.purchases import PURCHASE_COLUMNS, validate_purchases
from engagement_pipeline.sql import new_connection
from engagement_pipeline_tests.conftest import po


def run(config_path):
    config = load_config(config_path)
    con = new_connection()
    v = validate_purchases(con, config, config.snapshots.start_date, config.snapshots.end_date)
    return v.loaded.df(), v.quarantined.df()


@pytest.mark.parametrize(
    "raw, value", [("12.50", 12.5), ("$1,200.50", 1200.5), ("€ 7", 7.0), ("1e3", 1000.0)]
)
def test_amount_parsing(make_project, raw, value):
    loaded, q = run(make_project(purchases=[po("o1", "c1", "2025-01-01", raw)]))
    assert q.empty and loaded["amount"].tolist() == [value]


def test_bad_amounts_are_quarantined_with_reasons(make_project):
    rows = [
        po("o1", "c1", "2025-01-01", "-5"),
        po("o2", "c1", "2025-01-01", "0"),
        po("o3", "c1", "2025-01-01", "abc"),
        po("o4", "c1", "2025-01-01", "NaN"),
        po("o5", "c1", "2025-01-01", ""),
        po("o6", "c1", "2025-01-01", "inf"),
        po("o7", "c1", "2025-01-01", "10"),
        po("o7", "c1", "2025-01-02", "11"),
    ]
    loaded, q = run(make_project(purchases=rows))
    assert loaded["order_id"].tolist() == ["o7"]
    assert q.sort_values("source_row")["reason"].tolist() == [
        "non_positive_amount",
        "non_positive_amount",
        "invalid_amount",
        "missing_amount",  # NaN is one of the null spellings
        "missing_amount",
        "invalid_amount",
        "duplicate_order_id",
    ]
    assert tuple(loaded.columns) == PURCHASE_COLUMNS


def test_online_retail_ii_layout(make_project, tmp_path):
    (tmp_path / "retail.csv").write_text(
        "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
        "489434,85048,LIGHT,12,12/1/2009 07:45,6.95,13085,United Kingdom\n"
        "489434,79323P,PINK,12,12/1/2009 07:45,6.75,13085,United Kingdom\n"
        "489435,22350,CAT,12,12/1/2009 07:46,2.55,,United Kingdom\n"
        "C489449,22087,PAPER,-12,12/1/2009 10:33,2.95,16321,Australia\n"
        "489436,22111,BOTTLE,1,12/2/2009 09:00,4.25,13085,United Kingdom\n"
        "A506401,B,Adjust bad debt,1,12/2/2009 10:00,-53594.36,,United Kingdom\n"
        "489437,22112,HEART,0,12/2/2009 11:00,4.25,15000,France\n"
        "489434,85048,LIGHT,12,12/1/2009 07:45,6.95,13085,United Kingdom\n"
    )
    path = make_project(
        start="2009-12-01",
        end="2009-12-31",
        purchase_data={"file_path": "retail.csv", "layout": "online_retail_ii"},
    )
    loaded, q = run(path)
    orders = loaded.set_index("order_id")
    assert sorted(orders.index) == ["489434", "489436"]
    assert orders.loc["489434", "amount"] == pytest.approx(12 * 6.95 + 12 * 6.75)
    assert orders.loc["489434", "quantity"] == 24
    assert orders.loc["489434", "line_count"] == 2
    assert orders.loc["489434", "customer_id"] == "13085"
    assert pd.isna(orders.loc["489434", "product"])  # two different products
    assert orders.loc["489436", "product"] == "22111"
    assert dict(zip(q["source_row"], q["reason"], strict=True)) == {
        4: "missing_customer_id",
        5: "cancellation",
        7: "missing_customer_id",
        8: "non_positive_amount",
        9: "duplicate_row",
    }
    # lines read = lines loaded + lines quarantined
    assert int(loaded["line_count"].sum()) + len(q) == 8
