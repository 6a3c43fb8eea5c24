"""The alerts sensor hands each newly materialized date's alerts to the notifier, once."""

import json

import dagster as dg

from engagement_pipeline.config import load_config
from engagement_pipeline.defs.alerts import ALERT_NOTIFIER, AlertNotifier, build_alerts_sensor
from engagement_pipeline.defs.build import build_definitions
from engagement_pipeline.lake import Lake
from engagement_pipeline.sql import new_connection


def _alerts(con, day: str):
    return con.sql(
        f"SELECT DATE '{day}' AS snapshot_date, * FROM (VALUES "
        "('c1', 82.0, 'critical', 'medium', 'high', 1240.0, 'Win-back offer', 310.0, 'Risk 82 ...'), "
        "('c2', 45.0, 'high', NULL, 'high', 900.0, 'VIP care', 360.0, 'Risk 45 ...')) "
        "t(customer_id, risk_score, risk_level, previous_risk_level, value_segment, "
        "predicted_value, action, expected_return, explanation)"
    )


def test_new_alerts_reach_the_notifier_once(make_project):
    path = make_project(end="2025-01-05", alerts={"notifications_path": "out/alerts.jsonl"})
    config, defs = load_config(path), build_definitions(path)
    con, lake = new_connection(), Lake(load_config(path).lake_dir)
    lake.write(con, "customer_alerts", _alerts(con, "2025-01-04"), ["2025-01-04"])
    sensor = build_alerts_sensor()
    resources = {k: v for k, v in defs.resources.items() if k in ("settings", ALERT_NOTIFIER)}
    with dg.instance_for_test() as instance:
        instance.report_runless_asset_event(
            dg.AssetMaterialization("customer_alerts", partition="2025-01-04")
        )
        context = dg.build_sensor_context(instance=instance, resources=resources)
        result = sensor(context)
        assert "notified 2 on 2025-01-04" in result.skip_reason.skip_message
        lines = (config.base_dir / "out" / "alerts.jsonl").read_text().splitlines()
        records = [json.loads(line) for line in lines]
        assert [r["customer_id"] for r in records] == ["c1", "c2"]  # riskiest first
        assert (
            records[0]["snapshot_date"] == "2025-01-04"
            and records[1]["previous_risk_level"] is None
        )
        # the same materialization is not notified again
        again = sensor(
            dg.build_sensor_context(instance=instance, cursor=result.cursor, resources=resources)
        )
        assert again.skip_reason.skip_message == "no new customer_alerts dates"
        assert len((config.base_dir / "out" / "alerts.jsonl").read_text().splitlines()) == 2


def test_a_deployment_plugs_in_its_own_notifier(make_project):
    sent = []

    class ChatNotifier(AlertNotifier):
        channel: str

        def send(self, snapshot_date, alerts):
            sent.append((self.channel, snapshot_date, [a["customer_id"] for a in alerts]))
            return f"posted {len(alerts)} alerts to {self.channel}"

    path = make_project(end="2025-01-05")
    defs = build_definitions(path)
    con, lake = new_connection(), Lake(load_config(path).lake_dir)
    lake.write(con, "customer_alerts", _alerts(con, "2025-01-05"), ["2025-01-05"])
    resources = {
        "settings": defs.resources["settings"],
        ALERT_NOTIFIER: ChatNotifier(channel="#cs"),
    }
    with dg.instance_for_test() as instance:
        instance.report_runless_asset_event(
            dg.AssetMaterialization("customer_alerts", partition="2025-01-05")
        )
        build_alerts_sensor()(dg.build_sensor_context(instance=instance, resources=resources))
    assert sent == [("#cs", "2025-01-05", ["c1", "c2"])]
