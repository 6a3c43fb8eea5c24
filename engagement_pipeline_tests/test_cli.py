import yaml

from engagement_pipeline.cli import main
from engagement_pipeline_tests.defs.test_assets import EVENTS, PURCHASES


def test_run_writes_report_and_says_where(make_project, capsys, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    path = make_project(EVENTS, PURCHASES, end="2025-01-05")
    assert main(["--config", str(path), "run"]) == 0
    out = capsys.readouterr().out
    assert "Report for 2025-01-05:" in out
    assert (path.parent / "reports" / "2025-01-05" / "engagement_report.md").exists()


def test_errors_are_one_line_and_exit_non_zero(make_project, capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert main(["--config", str(tmp_path / "none.yaml"), "run"]) == 2
    assert capsys.readouterr().err.startswith("error: Configuration file not found")
    path = make_project(EVENTS, PURCHASES, end="2025-01-05")
    assert main(["--config", str(path), "run", "--from", "2024-12-01"]) == 2
    assert "--from 2024-12-01 is not a snapshot date" in capsys.readouterr().err
    bad = make_project(EVENTS, PURCHASES, end="2025-01-05", purchase_data={"file_path": "gone.csv"})
    assert main(["--config", str(bad), "run"]) == 2  # an input error, raised inside the run
    err = capsys.readouterr().err
    assert (
        "error in purchases_ingestion (2025-01-01 .. 2025-01-05): Purchase data file not found"
        in err
    )
    assert "Traceback" not in err


def test_a_broken_input_file_exits_2_with_our_message(make_project, capsys, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    bad = make_project(EVENTS, PURCHASES, end="2025-01-05", purchase_data={"file_path": "p.json"})
    (bad.parent / "p.json").write_text(
        '[{"order_id": "o1", "customer_id": "c1"'  # cut off
    )
    raw = yaml.safe_load(bad.read_text())
    raw["purchase_data"]["format"] = "json"
    bad.write_text(yaml.safe_dump(raw))
    assert main(["--config", str(bad), "run"]) == 2
    err = capsys.readouterr().err
    assert (
        "error in purchases_ingestion (2025-01-01 .. 2025-01-05): purchase_data: cannot read" in err
    )
    assert "p.json as json: it is not valid JSON" in err
    assert "Traceback" not in err and "Invalid Input Error" not in err


def test_a_step_failing_on_a_bug_exits_1(make_project, capsys, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    path = make_project(EVENTS, PURCHASES, end="2025-01-05")

    def broken(*args, **kwargs):
        raise RuntimeError("not an input problem")

    import dataclasses

    from engagement_pipeline.defs.assets import raw

    monkeypatch.setattr(
        raw, "PURCHASES_SOURCE", dataclasses.replace(raw.PURCHASES_SOURCE, validate=broken)
    )
    assert main(["--config", str(path), "run"]) == 1
    assert "not an input problem" in capsys.readouterr().err
