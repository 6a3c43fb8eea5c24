"""Alert notifications: a sensor (off by default) that hands each new date's alerts to a
pluggable notifier. The shipped notifier appends them to a JSON Lines file; a deployment
points the `alert_notifier` resource at email or chat instead (README, "Alerts")."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import dagster as dg

from engagement_pipeline.defs.resources import PipelineSettings
from engagement_pipeline.lake import Lake, open_lake
from engagement_pipeline.sql import new_connection
from engagement_pipeline.stages import CUSTOMER_ALERTS

ALERTS_SENSOR = "customer_alerts_sensor"
ALERT_NOTIFIER = "alert_notifier"


class AlertNotifier(dg.ConfigurableResource):
    """Where alerts go. Subclass it and implement `send` to reach email, chat or a ticket
    queue; bind the subclass to the `alert_notifier` resource key."""

    def send(self, snapshot_date: str, alerts: list[dict[str, Any]]) -> str:
        """Deliver one date's alerts (each a dict of the customer_alerts columns); return
        a sentence saying where they went, for the sensor's log."""
        raise NotImplementedError(f"{type(self).__name__} must implement send()")


class JsonLinesNotifier(AlertNotifier):
    """Appends each alert as one JSON object per line (with the date it was raised on)."""

    path: str

    def send(self, snapshot_date: str, alerts: list[dict[str, Any]]) -> str:
        target = Path(self.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("a", encoding="utf-8") as fh:
            for alert in alerts:  # one line per alert: the file's format
                fh.write(json.dumps({**alert, "snapshot_date": snapshot_date}, default=str) + "\n")
        return f"appended {len(alerts)} alerts of {snapshot_date} to {target}"


def alerts_of(lake: Lake, day: str) -> list[dict[str, Any]]:
    """The customer_alerts rows of one date, as plain records (dates as ISO text)."""
    rel = lake.read(new_connection(), CUSTOMER_ALERTS, [day])
    rel = rel.project(", ".join(c for c in rel.columns if c != "snapshot_date"))
    rows = rel.order("risk_score DESC, customer_id").fetchall()
    return [
        {
            k: v.isoformat() if isinstance(v, dt.date) else v
            for k, v in zip(rel.columns, r, strict=True)
        }
        for r in rows  # one date's alerts: a short list to hand over
    ]


def build_alerts_sensor() -> dg.SensorDefinition:
    @dg.sensor(
        name=ALERTS_SENSOR,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="When customer_alerts is materialized for a date with alerts, hands "
        "them to the alert_notifier resource (shipped: a JSON Lines file). Each "
        "materialization is notified once.",
    )
    def customer_alerts_sensor(
        context: dg.SensorEvaluationContext,
        settings: PipelineSettings,
        alert_notifier: AlertNotifier,
    ) -> dg.SensorResult:
        after = int(context.cursor or 0)
        records = context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(CUSTOMER_ALERTS), after_storage_id=after),
            limit=100,
            ascending=True,
        ).records
        if not records:
            return dg.SensorResult(cursor=str(after), skip_reason="no new customer_alerts dates")
        lake = open_lake(settings.load())
        sent = []
        for record in records:  # one per materialized date
            alerts = alerts_of(lake, record.partition_key)
            if alerts:
                message = alert_notifier.send(record.partition_key, alerts)
                context.log.info(message)
                sent.append(f"{len(alerts)} on {record.partition_key}")
        cursor = str(max(r.storage_id for r in records))
        summary = f"notified {', '.join(sent)}" if sent else "no alerts on the new dates"
        return dg.SensorResult(cursor=cursor, skip_reason=summary)

    return customer_alerts_sensor
