"""The shipped CDNOW config runs through Dagster: its free ($0) orders load and pass the contracts."""

from pathlib import Path

import dagster as dg
import yaml

from engagement_pipeline.defs.build import build_definitions

CDNOW = Path(__file__).resolve().parents[2] / "data" / "cdnow"


def test_cdnow_raw_purchases_with_free_orders(tmp_path):
    config = yaml.safe_load((CDNOW / "config.yaml").read_text())
    for section in ("engagement_data", "purchase_data"):
        config[section]["file_path"] = str(CDNOW / config[section]["file_path"])
    config["storage"] = {
        "lake_path": str(tmp_path / "lake"),
        "reports_path": str(tmp_path / "reports"),
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    defs = build_definitions(path)
    raw = {dg.AssetKey(k) for k in ("raw_purchases", "quarantined_purchases")}
    job = defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection=raw)
    # 1997-01-05 holds one of the eight $0 first purchases
    result = job.execute_in_process(partition_key="1997-01-05", raise_on_error=False)
    assert result.success
    checks = {
        e.event_specific_data.check_name: e.event_specific_data.passed
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and e.event_specific_data.asset_key.path[-1] == "raw_purchases"
    }
    assert checks["positive_amounts"] is True
