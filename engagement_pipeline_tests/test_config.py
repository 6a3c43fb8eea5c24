from pathlib import Path

import pytest
import yaml

from engagement_pipeline.config import load_config
from engagement_pipeline.errors import ConfigError, ConfigFileNotFoundError
from engagement_pipeline.models import TouchpointType

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def minimal(**extra: object) -> dict:
    return {
        "snapshots": {"start_date": "2025-01-01"},
        "engagement_data": {"file_path": "e.csv"},
        "purchase_data": {"file_path": "p.csv"},
        **extra,
    }


def test_shipped_config_is_valid():
    config = load_config(ROOT / "config.yaml")
    assert config.snapshots.start_date.isoformat() == "2025-01-01"
    assert config.ltv.lookback_months == 12
    assert set(config.engagement_scoring.touchpoint_weights) == set(TouchpointType)
    # relative paths start at the config file's folder, not the working directory
    assert (
        config.resolve(config.engagement_data.file_path)
        == ROOT / "data/sample/engagement_events.csv"
    )


def test_the_shipped_config_spells_out_the_intelligence_rules_a_user_edits(tmp_path):
    # The RFM segment table and the action rules live in config.yaml for users to rename
    # and redraw; the shipped file says exactly what the defaults do.
    raw = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    assert {"rfm", "lifecycle", "trends", "risk", "actions", "alerts", "journeys"} <= set(raw)
    assert len(raw["rfm"]["segments"]) == 12  # At Risk takes two rectangles of the grid
    assert [r["name"] for r in raw["actions"]["rules"]][-1] == "No action"
    config = load_config(ROOT / "config.yaml")
    defaults = load_config(write(tmp_path, yaml.safe_dump(minimal())))
    for section in ("rfm", "lifecycle", "trends", "risk", "actions", "alerts", "journeys"):
        assert getattr(config, section) == getattr(defaults, section), section
    assert len(config.rfm.segment_names()) == 11


def test_defaults_fill_optional_sections(tmp_path):
    config = load_config(write(tmp_path, yaml.safe_dump(minimal())))
    assert config.ltv.discount_rate == 0.10
    assert config.strategy.max_recommendations_per_segment == 3
    assert config.lake_dir == (tmp_path / "data/warehouse").resolve()


def test_config_path_env_is_the_default(tmp_path, monkeypatch):
    path = write(tmp_path, yaml.safe_dump(minimal()))
    monkeypatch.setenv("CONFIG_PATH", str(path))
    assert load_config().base_dir == tmp_path


def test_missing_file_names_it(tmp_path):
    with pytest.raises(ConfigFileNotFoundError, match="Configuration file not found: .*nope.yaml"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(FileNotFoundError):  # the API document's exception type
        load_config(tmp_path / "nope.yaml")


def test_invalid_yaml_names_line(tmp_path):
    path = write(tmp_path, "snapshots:\n  start_date: [2025\n")
    with pytest.raises(ConfigError, match=r"not valid YAML at line \d+"):
        load_config(path)


def test_not_a_mapping(tmp_path):
    with pytest.raises(ConfigError, match="must be a YAML mapping"):
        load_config(write(tmp_path, "- a\n- b\n"))


@pytest.mark.parametrize(
    "config, key, message",
    [
        (
            {k: v for k, v in minimal().items() if k != "purchase_data"},
            "purchase_data",
            "required key is missing",
        ),
        (minimal(ltv={"discount_rate": 1.5}), "ltv.discount_rate", "must be less than 1, got 1.5"),
        (minimal(ltv={"lookback_months": 0}), "ltv.lookback_months", "must be 1 or more, got 0"),
        (minimal(ltv={"discount_rate": "ten"}), "ltv.discount_rate", "must be a number, got 'ten'"),
        (
            minimal(segmentation={"ltv_threshold_high": 10, "ltv_threshold_medium": 20}),
            "segmentation",
            "must not exceed",
        ),
        (
            minimal(segmentation={"engagement_threshold_high": 1.2}),
            "segmentation.engagement_threshold_high",
            "must be 1 or less, got 1.2",
        ),
        (
            minimal(segmentation={"recency_treshold_days": 30}),
            "segmentation.recency_treshold_days",
            "unknown key (check its spelling: every key is listed in docs/data_dictionary.md",
        ),
        (
            minimal(snapshots={"start_date": "2025-02-30"}),
            "snapshots.start_date",
            "must be a date written YYYY-MM-DD, got '2025-02-30'",
        ),
        (
            minimal(snapshots={"start_date": "2025-02-01", "end_date": "2025-01-01"}),
            "snapshots",
            "end_date must be on or after",
        ),
        (
            minimal(engagement_data={"file_path": "e.csv", "format": "xlsx"}),
            "engagement_data.format",
            "csv",
        ),
        (
            minimal(engagement_data={"file_path": "  "}),
            "engagement_data.file_path",
            "must not be empty",
        ),
        (
            minimal(strategy={"max_recommendations_per_segment": -1}),
            "strategy.max_recommendations_per_segment",
            "must be 0 or more, got -1",
        ),
        (minimal(ltv=5), "ltv", "must be a group of keys (key: value lines indented under it)"),
        (minimal(reports={"html": "maybe"}), "reports.html", "must be true or false, got 'maybe'"),
        (minimal(ltv={"lookback_months": 2.5}), "ltv.lookback_months", "must be a whole number"),
        (
            minimal(engagement_scoring={"touchpoint_weights": {"email": 1}}),
            "engagement_scoring.touchpoint_weights",
            "missing weights for touchpoints: web",
        ),
        (
            minimal(engagement_scoring={"touchpoint_weights": {"fax": 1}}),
            "engagement_scoring.touchpoint_weights",
            "fax",
        ),
        (
            minimal(purchase_data={"file_path": "p.csv", "amount_column": None}),
            "purchase_data",
            "amount_column is required",
        ),
        (
            minimal(engagement_data={"file_path": "e.csv", "timestamp_unit": "minutes"}),
            "engagement_data.timestamp_unit",
            "must be one of 'auto', 'seconds' or 'milliseconds', got 'minutes'",
        ),
        (
            minimal(purchase_data={"file_path": "p.csv", "decimal_separator": ";"}),
            "purchase_data.decimal_separator",
            "'.' or ','",
        ),
    ],
)
def test_invalid_values_name_the_key(tmp_path, config, key, message):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, yaml.safe_dump(config)))
    text = str(info.value)
    assert str(tmp_path / "config.yaml") in text
    assert f"- {key}" in text
    assert message in text
    assert "Traceback" not in text and "pydantic" not in text
    assert "Input should" not in text  # the library's wording, not ours


def test_source_reading_defaults(tmp_path):
    config = load_config(write(tmp_path, yaml.safe_dump(minimal())))
    for source in (config.engagement_data, config.purchase_data):
        assert source.null_values == ["", "NULL", "null", "None", "NaN", "N/A"]
        assert source.timestamp_unit == "auto" and source.decimal_separator == "."


def test_online_retail_layout_defaults_its_columns(tmp_path):
    config = load_config(
        write(
            tmp_path,
            yaml.safe_dump(
                minimal(purchase_data={"file_path": "p.csv", "layout": "online_retail_ii"})
            ),
        )
    )
    p = config.purchase_data
    assert (p.customer_id_column, p.order_id_column, p.purchase_date_column) == (
        "Customer ID",
        "Invoice",
        "InvoiceDate",
    )
    assert (p.quantity_column, p.unit_price_column, p.country_column) == (
        "Quantity",
        "Price",
        "Country",
    )


def test_overrides_merge_over_the_file(tmp_path):
    path = write(
        tmp_path, yaml.safe_dump(minimal(ltv={"discount_rate": 0.1, "lookback_months": 6}))
    )
    config = load_config(path, overrides={"ltv": {"discount_rate": 0.2}})
    assert (config.ltv.discount_rate, config.ltv.lookback_months) == (0.2, 6)
    with pytest.raises(ConfigError, match="ltv.discount_rate"):
        load_config(path, overrides={"ltv": {"discount_rate": -1}})
