"""Writes the bad-input corpus into files/ (run once; the files are committed).

python engagement_pipeline_tests/corpus/make_corpus.py
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent / "files"
EV = "event_id,customer_id,touchpoint,timestamp,engagement_score\n"
PO = "order_id,customer_id,purchase_date,amount\n"
GOOD_EV = "e1,c1,web,2025-01-01 10:00,0.5\n"
GOOD_PO = "o1,c1,2025-01-01 10:00,10.00\n"

TEXT: dict[str, str | bytes] = {
    "ragged_rows.csv": EV + GOOD_EV + "e2,c1,web,2025-01-01 11:00,0.5,EXTRA\ne3,c1,web\n",
    "broken_quoting.csv": EV
    + 'e1,c1,web,"2025-01-01 10:00,0.5\n'
    + "e2,c2,web,2025-01-01 11:00,\n",
    "wrong_delimiter.csv": EV.replace(",", ";") + GOOD_EV.replace(",", ";"),
    "bom.csv": "\ufeff" + EV + GOOD_EV,
    "invalid_utf8.csv": (EV + "e1,c\xff1,web,2025-01-01 10:00,\n").encode("latin-1")
    + GOOD_EV.replace("e1", "e2").encode(),
    "empty.csv": "",
    "header_only.csv": EV,
    "missing_column.csv": "event_id,customer_id,timestamp\ne1,c1,2025-01-01 10:00\n",
    "renamed_column.csv": EV.replace("customer_id", "Customer_ID") + GOOD_EV,
    "extra_columns.csv": EV.strip() + ",browser,notes\n" + GOOD_EV.strip() + ",firefox,hello\n",
    "wrong_types.csv": EV
    + GOOD_EV
    + "e2,c1,web,2025-01-01 11:00,high\ne3,c1,web,2025-01-01 12:00,7\n",
    "unparseable_timestamps.csv": EV
    + GOOD_EV
    + "e2,c1,web,31/31/2025,\ne3,c1,web,yesterday,\ne4,c1,web,,\n",
    "mixed_timezones.csv": EV
    + "e1,c1,web,2025-01-01T23:30:00-05:00,\n"  # 2025-01-02 04:30 UTC
    + "e2,c1,web,2025-01-02T00:30:00+01:00,\n"  # 2025-01-01 23:30 UTC
    + "e3,c1,web,2025-01-02T12:00:00Z,\n",
    "future_dates.csv": EV + GOOD_EV + "e2,c1,web,2099-01-01 10:00,\n",
    "negative_amounts.csv": PO + GOOD_PO + "o2,c1,2025-01-01 11:00,-25.00\n",
    "zero_amounts.csv": PO + GOOD_PO + "o2,c1,2025-01-01 11:00,0\n",
    "nan_amounts.csv": PO + GOOD_PO + "o2,c1,2025-01-01 11:00,NaN\no3,c1,2025-01-01 11:00,inf\n",
    "absurd_amounts.csv": PO + GOOD_PO + "o2,c1,2025-01-01 11:00,1e15\n",
    "duplicate_rows.csv": EV + GOOD_EV + GOOD_EV + GOOD_EV,
    "duplicate_ids.csv": EV + GOOD_EV + "e1,c2,email,2025-01-01 12:00,\n",
    "unknown_touchpoints.csv": EV
    + GOOD_EV
    + "e2,c1,fax,2025-01-01 11:00,\ne3,c1,,2025-01-01 11:00,\n",
    "null_customer_ids.csv": EV
    + GOOD_EV
    + "e2,,web,2025-01-01 11:00,\ne3,   ,web,2025-01-01 11:00,\n",
    "very_long_strings.csv": EV
    + GOOD_EV
    + f"e2,{'c' * 5000},web,2025-01-01 11:00,\n"
    + "e3,c3,web,2025-01-01 11:00,\n".replace("e3,c3", f"{'x' * 300},c3"),
    "json_not_records.json": json.dumps([1, 2, 3]),
    "json_truncated.json": '[{"event_id": "e1", "customer_id": "c1"',
    "json_lines.jsonl": "\n".join(
        json.dumps(r)
        for r in [
            {
                "event_id": "e1",
                "customer_id": "c1",
                "touchpoint": "web",
                "timestamp": "2025-01-01 10:00",
                "engagement_score": 0.5,
            },
            {
                "event_id": "e2",
                "customer_id": None,
                "touchpoint": "web",
                "timestamp": "2025-01-01 11:00",
                "engagement_score": None,
            },
        ]
    ),
    "not_parquet.parquet": b"PAR1 this is not really parquet \x00\x01\x02",
    "binary_garbage.csv": bytes(range(256)) * 4,
    # rows added by another program, ending CR LF where the file's own end LF
    "mixed_line_endings.csv": (EV + GOOD_EV + GOOD_EV.replace("e1", "e2")).encode()
    + GOOD_EV.replace("e1", "e3").replace("\n", "\r\n").encode(),
    "no_readable_timestamp.csv": EV + "e1,c1,web,soon,\ne2,c1,web,later,\n",
    "unbalanced_quote.csv": EV
    + GOOD_EV
    + 'e2,"C2,web,2025-01-01 11:00,\n'
    + GOOD_EV.replace("e1", "e3"),
    "null_tokens.csv": EV
    + GOOD_EV
    + "e2,NULL,web,2025-01-01 11:00,\ne3,N/A,web,2025-01-01 11:00,\ne4,c1,None,2025-01-01 11:00,\n",
    "nested_values.json": json.dumps(
        [
            {"event_id": "e1", "customer_id": "c1", "touchpoint": "web", "timestamp": "2025-01-01"},
            {
                "event_id": "e2",
                "customer_id": {"id": 1},
                "touchpoint": "web",
                "timestamp": "2025-01-01",
            },
            {"event_id": "e3", "customer_id": "c1", "touchpoint": "web", "timestamp": [2025, 1, 1]},
        ]
    ),
    "epoch_seconds.json": json.dumps(
        [
            {"event_id": "e1", "customer_id": "c1", "touchpoint": "web", "timestamp": 1735725600},
            {
                "event_id": "e2",
                "customer_id": "c1",
                "touchpoint": "web",
                "timestamp": 1735812000000,
            },
        ]
    ),
    "day_first_dates.csv": EV + "e1,c1,web,15/01/2025 10:00,\ne2,c1,web,02/01/2025 10:00,\n",
    "mixed_date_orders.csv": EV + "e1,c1,web,15/01/2025 10:00,\ne2,c1,web,01/13/2025 10:00,\n",
    "decimal_commas.csv": PO.replace(",", ";")
    + "o1;c1;2025-01-01 10:00;12,50\no2;c1;2025-01-01 11:00;3,99\n",
    "non_positive_quantity.csv": "order_id,customer_id,purchase_date,amount,quantity\n"
    "o1,c1,2025-01-01 10:00,10.00,1\no2,c1,2025-01-01 11:00,10.00,0\no3,c1,2025-01-01 12:00,10.00,-2\n",
    "online_retail_repeats.csv": "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
    "489434,85048,LIGHT,12,12/1/2009 07:45,6.95,13085.0,United Kingdom\n"
    "489434,85048,LIGHT,12,12/1/2009 07:45,6.95,13085.0,United Kingdom\n"
    "489435,22350,CAT,-12,12/1/2009 07:46,2.55,13085.0,United Kingdom\n",
    "online_retail.csv": "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
    "489434,85048,LIGHT,12,12/1/2009 07:45,6.95,13085,United Kingdom\n"
    "C489449,22087,PAPER,-12,12/1/2009 10:33,2.95,16321,Australia\n"
    "489435,22350,CAT,12,12/1/2009 07:46,2.55,,United Kingdom\n"
    "A506401,B,Adjust bad debt,1,12/1/2009 10:00,-53594.36,,United Kingdom\n",
}


def main() -> None:
    HERE.mkdir(parents=True, exist_ok=True)
    for name, content in TEXT.items():
        data = content if isinstance(content, bytes) else content.encode("utf-8")
        (HERE / name).write_bytes(data)
    pq.write_table(
        pa.table({"id": ["e1"], "who": ["c1"], "when": ["2025-01-01"]}),
        HERE / "wrong_schema.parquet",
    )
    good = pa.table(
        {
            "event_id": ["e1", "e2"],
            "customer_id": ["c1", "c2"],
            "touchpoint": ["web", "email"],
            "timestamp": ["2025-01-01 10:00", "2025-01-01 11:00"],
            "engagement_score": [0.5, None],
        }
    )
    pq.write_table(good, HERE / "truncated.parquet")
    data = (HERE / "truncated.parquet").read_bytes()
    (HERE / "truncated.parquet").write_bytes(data[: len(data) // 2])
    (HERE / "a_directory.csv").mkdir(exist_ok=True)
    (HERE / "a_directory.csv" / ".keep").write_text("a folder where a file is expected\n")


if __name__ == "__main__":
    main()
