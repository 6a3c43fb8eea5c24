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
    assert main(["--config", str(bad), "run"]) == 1
    err = capsys.readouterr().err
    assert (
        "error in purchases_ingestion (2025-01-01 .. 2025-01-05): Purchase data file not found"
        in err
    )
    assert "Traceback" not in err
