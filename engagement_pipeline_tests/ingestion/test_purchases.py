import pandas as pd
import pytest

from engagement_pipeline.config import load_config
from engagement_pipeline.errors import SourceError
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
    # line 9 repeats line 2 within invoice 489434: the same item entered twice, both kept
    assert orders.loc["489434", "amount"] == pytest.approx(2 * 12 * 6.95 + 12 * 6.75)
    assert orders.loc["489434", "quantity"] == 36
    assert orders.loc["489434", "line_count"] == 3
    assert orders.loc["489434", "customer_id"] == "13085"
    assert pd.isna(orders.loc["489434", "product"])  # two different products
    assert orders.loc["489436", "product"] == "22111"
    assert dict(zip(q["source_row"], q["reason"], strict=True)) == {
        4: "missing_customer_id",
        5: "cancellation",
        7: "missing_customer_id",
        8: "non_positive_quantity",
    }
    # lines read = lines loaded + lines quarantined
    assert int(loaded["line_count"].sum()) + len(q) == 8


RETAIL_HEADER = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
LINE = "489434,85048,LIGHT,12,12/1/2009 07:45,6.95,13085.0,United Kingdom\n"


def _retail(make_project, file_path="retail.csv", **extra):
    return make_project(
        start="2009-12-01",
        end="2009-12-31",
        purchase_data={"file_path": file_path, "layout": "online_retail_ii", **extra},
    )


def test_online_retail_repeats_across_files_are_duplicates(make_project, tmp_path):
    (tmp_path / "exports").mkdir()
    content = (
        RETAIL_HEADER
        + LINE  # line 2
        + LINE  # line 3: same item twice on one invoice: a second line of the order
        + LINE.replace("489434", "489500")  # line 4: same item on another invoice
    )
    for name in ("a.csv", "b.csv"):  # b.csv is the same export again
        (tmp_path / "exports" / name).write_text(content)
    loaded, q = run(_retail(make_project, "exports/*.csv"))
    orders = loaded.set_index("order_id")
    assert orders["line_count"].to_dict() == {"489434": 2, "489500": 1}
    assert orders.loc["489434", "amount"] == pytest.approx(2 * 12 * 6.95)
    assert orders["customer_id"].tolist() == ["13085", "13085"]  # float export's '.0' dropped
    assert sorted(zip(q["source_file"].str[-5:], q["source_row"], q["reason"], strict=True)) == [
        ("b.csv", 2, "duplicate_row"),
        ("b.csv", 3, "duplicate_row"),
        ("b.csv", 4, "duplicate_row"),
    ]
    assert int(loaded["line_count"].sum()) + len(q) == 6  # lines read = loaded + quarantined


def test_non_positive_quantities_in_both_layouts(make_project, tmp_path):
    (tmp_path / "retail.csv").write_text(
        RETAIL_HEADER
        + LINE
        + LINE.replace("489434,85048,LIGHT,12", "489435,85048,LIGHT,-3")  # not a C invoice
        + LINE.replace("489434,85048,LIGHT,12", "C489436,85048,LIGHT,-3")  # cancellation
        + LINE.replace("489434,85048,LIGHT,12", "489437,85048,LIGHT,0")
    )
    _, q = run(_retail(make_project))
    assert dict(zip(q["source_row"], q["reason"], strict=True)) == {
        3: "non_positive_quantity",
        4: "cancellation",
        5: "non_positive_quantity",
    }
    path = make_project(purchase_data={"quantity_column": "quantity"})
    (tmp_path / "purchases.csv").write_text(
        "order_id,customer_id,purchase_date,amount,quantity\n"
        "o1,c1,2025-01-01,10,2\n"
        "o2,c1,2025-01-01,10,0\n"
        "o3,c1,2025-01-01,10,-1\n"
        "o4,c1,2025-01-01,10,\n"  # quantity is optional in the canonical layout
    )
    loaded, q = run(path)
    assert loaded["order_id"].tolist() == ["o1", "o4"]
    assert dict(zip(q["source_row"], q["reason"], strict=True)) == {
        3: "non_positive_quantity",
        4: "non_positive_quantity",
    }


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("12000.0", "12000"),
        ("12000.00", "12000"),
        ("12000.5", "12000.5"),
        ("A12.0", "A12.0"),
        ("012.0", "012"),
        ("12000", "12000"),
    ],
)
def test_float_customer_ids_lose_their_integral_suffix(make_project, raw, expected):
    loaded, q = run(make_project(purchases=[po("o1", raw, "2025-01-01", "10")]))
    assert q.empty and loaded["customer_id"].tolist() == [expected]


def test_decimal_comma(make_project, tmp_path):
    path = make_project(purchase_data={"csv": {"delimiter": ";"}, "decimal_separator": ","})
    (tmp_path / "purchases.csv").write_text(
        "order_id;customer_id;purchase_date;amount\n"
        "o1;c1;2025-01-01;12,50\n"
        "o2;c1;2025-01-01;1.234,5\n"
        "o3;c1;2025-01-01;1 234,50 €\n"
        "o4;c1;2025-01-01;7\n"
        "o5;c1;2025-01-01;1.5\n"  # a '.' that does not group thousands: unreadable
    )
    loaded, q = run(path)
    assert loaded.set_index("order_id")["amount"].to_dict() == {
        "o1": 12.5,
        "o2": 1234.5,
        "o3": 1234.5,
        "o4": 7.0,
    }
    assert q["reason"].tolist() == ["invalid_amount"]


def test_a_file_of_decimal_commas_names_the_setting(make_project, tmp_path):
    path = make_project(purchase_data={"csv": {"delimiter": ";"}})
    (tmp_path / "purchases.csv").write_text(
        "order_id;customer_id;purchase_date;amount\n"
        "o1;c1;2025-01-01;12,50\n"
        "o2;c1;2025-01-01;\n"
        "o3;c1;2025-01-01;3,99\n"
    )
    with pytest.raises(SourceError) as info:
        run(path)
    assert str(info.value) == (
        f"purchase_data: every amount in {tmp_path / 'purchases.csv'} looks like a decimal comma "
        "(e.g. '12,50'); set purchase_data.decimal_separator: ','"
    )
    # one readable amount: the rest are bad rows, quarantined one by one
    (tmp_path / "purchases.csv").write_text(
        "order_id;customer_id;purchase_date;amount\no1;c1;2025-01-01;12,50\no2;c1;2025-01-01;4\n"
    )
    loaded, q = run(path)
    assert loaded["order_id"].tolist() == ["o2"] and q["reason"].tolist() == ["invalid_amount"]
