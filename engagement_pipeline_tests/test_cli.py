import json
import os
import re
from pathlib import Path

import pytest
import yaml

from engagement_pipeline.cli import main
from engagement_pipeline_tests.defs.test_assets import EVENTS, PURCHASES


@pytest.fixture(autouse=True)
def _away_from_the_projects_env(tmp_path, monkeypatch):
    """Each command runs in a folder of its own: the project's .env (bootstrap.py's
    DAGSTER_HOME) would otherwise give it the project's Dagster instance."""
    monkeypatch.chdir(tmp_path)


def test_run_writes_report_and_says_where(make_project, capsys, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    path = make_project(EVENTS, PURCHASES, end="2025-01-05")
    assert main(["--config", str(path), "run"]) == 0
    out = capsys.readouterr().out
    assert "Report for 2025-01-05:" in out
    assert (path.parent / "reports" / "2025-01-05" / "engagement_report.md").exists()
    # the rejected rows are named where the user looks: the fax event and the refund
    assert (
        "Quarantined at ingestion: 1 row in quarantined_engagement_events "
        "(unknown_touchpoint 1); 1 row in quarantined_purchases (non_positive_amount 1)." in out
    ), out


def test_a_long_run_prints_its_progress_after_each_month_of_dates(
    make_project, capsys, monkeypatch
):
    """The sample's 181 dates ran as one run and printed nothing for seven minutes: the
    command's runs hold at most PROGRESS_DAYS dates (two here, for five dates)."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setattr("engagement_pipeline.cli.PROGRESS_DAYS", 2)
    path = make_project(EVENTS, PURCHASES, end="2025-01-05")
    assert main(["--config", str(path), "run"]) == 0
    out = capsys.readouterr().out
    done = re.findall(
        r"(\d+)/5 dates, [\d,]+ source rows at [\d,]+ rows/s, (about .* left|all in .*)", out
    )
    assert [(n, tail.split()[0]) for n, tail in done] == [
        ("2", "about"),
        ("4", "about"),
        ("5", "all"),
    ]
    # the last line names the report that was written: the HTML page marketing readers
    # open, or (as in these tests, reports.html off) the Markdown
    printed = Path(re.search(r"Report for 2025-01-05: (\S+)", out).group(1))
    assert printed.exists() and printed.name == "engagement_report.md"
    config = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**config, "reports": {"html": True}}))
    assert main(["--config", str(path), "run", "--from", "2025-01-05"]) == 0
    out = capsys.readouterr().out
    printed = Path(re.search(r"Report for 2025-01-05: (\S+)", out).group(1))
    assert printed.exists() and printed.name == "engagement_report.html"


def test_errors_are_one_line_and_exit_non_zero(make_project, capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert main(["--config", str(tmp_path / "none.yaml"), "run"]) == 2
    assert capsys.readouterr().err.startswith("error: Configuration file not found")
    path = make_project(EVENTS, PURCHASES, end="2025-01-05")
    assert main(["--config", str(path), "run", "--from", "2024-12-01"]) == 2
    assert "--from 2024-12-01 is not a snapshot date" in capsys.readouterr().err
    bad = make_project(EVENTS, PURCHASES, end="2025-01-05", purchase_data={"file_path": "gone.csv"})
    # a missing source: said before any run starts (no lake written yet)
    assert main(["--config", str(bad), "run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Purchase data file not found:")
    assert "gone.csv (purchase_data.file_path)" in err and "Traceback" not in err
    assert not (bad.parent / "lake").exists()


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


def test_config_goes_before_or_after_the_subcommand_and_every_help_has_an_example(capsys):
    from engagement_pipeline.cli import EXAMPLES, _parser

    parser = _parser()
    assert parser.parse_args(["--config", "a.yaml", "status"]).config.name == "a.yaml"
    assert parser.parse_args(["status", "--config", "b.yaml"]).config.name == "b.yaml"
    # given before and not after: the one given stands
    assert (
        parser.parse_args(["--config", "a.yaml", "report", "--date", "2025-01-01"]).config.name
        == "a.yaml"
    )
    for name, example in EXAMPLES.items():
        with pytest.raises(SystemExit):
            parser.parse_args([name, "--help"])
        assert f"Example:\n  {example}" in capsys.readouterr().out


def test_report_prints_and_writes_one_format(make_project, capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    path = make_project(EVENTS, PURCHASES, end="2025-01-05")
    assert main(["--config", str(path), "run"]) == 0
    capsys.readouterr()
    assert main(["report", "--config", str(path), "--date", "2025-01-05", "--format", "md"]) == 0
    written = (path.parent / "reports" / "2025-01-05" / "engagement_report.md").read_text()
    assert capsys.readouterr().out == written
    assert main(["report", "--config", str(path), "--date", "2025-01-05", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["snapshot_date"] == "2025-01-05"
    out = tmp_path / "r.html"
    args = ["report", "--date", "2025-01-05", "--format", "html", "--out", str(out)]
    assert main(["--config", str(path), *args]) == 0
    assert out.read_text().startswith("<!DOCTYPE html>")
    # a date the lake does not hold: one line naming it and what to run
    assert main(["--config", str(path), "report", "--date", "2025-03-01"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: The lake") and "--from 2025-03-01 --to 2025-03-01" in err


def test_status_shows_ranges_runs_and_failing_checks(make_project, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    path = make_project(EVENTS, PURCHASES, end="2025-01-05")
    assert main(["--config", str(path), "run", "--to", "2025-01-03"]) == 0
    capsys.readouterr()
    assert main(["status", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Latest run:" in out and "SUCCESS" in out
    assert re.search(r"customer_segments\s+2025-01-01 \.\. 2025-01-03\s+\w{8} SUCCESS", out)
    # too few purchases to fit the CLV model on those days: a (non-blocking) failing check
    assert "customer_clv.model_fitted (warning): 3 dates (2025-01-01 .. 2025-01-03)" in out
    monkeypatch.delenv("DAGSTER_HOME")
    assert main(["status", "--config", str(path)]) == 2
    assert "DAGSTER_HOME is not set" in capsys.readouterr().err
    # a .env in the working folder, as bootstrap.py writes it, stands in for the variable
    # for the command's duration
    (tmp_path / ".env").write_text(f"DAGSTER_HOME={tmp_path / 'home'}\n")
    assert main(["status", "--config", str(path)]) == 0
    assert "Latest run:" in capsys.readouterr().out
    assert "DAGSTER_HOME" not in os.environ


def test_generate_sample_says_what_it_wrote_in_words(tmp_path, capsys):
    out = tmp_path / "mine"
    assert main(["generate-sample", "--customers", "50", "--days", "5", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    # the files' lines, less their headers
    events = len((out / "engagement_events.csv").read_text().splitlines()) - 1
    purchases = len((out / "purchases.csv").read_text().splitlines()) - 1
    assert printed == (
        f"Wrote a sample of 50 customers to {out}: {events:,} engagement events and "
        f"{purchases:,} purchases.\n"
    )


def test_a_bad_env_file_or_dagster_home_is_one_message_in_our_words(
    make_project, capsys, monkeypatch, tmp_path
):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    path = make_project(EVENTS, PURCHASES, end="2025-01-05")
    # a line that is not NAME=value is left out with a note; a DAGSTER_HOME that is no
    # folder is named, not Dagster's traceback
    (tmp_path / ".env").write_text(f'DAGSTER_HOME={tmp_path / "gone"}\nnot valid = = "\n')
    assert main(["status", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"note: {tmp_path / '.env'}: line 2 is not a NAME=value line and is left out." in err
    assert f"error: DAGSTER_HOME is {tmp_path / 'gone'}, which is not a folder." in err
    assert "python-dotenv" not in err and "Traceback" not in err
    (tmp_path / ".env").write_bytes(b"\xff\xfe\x00")
    assert main(["status", "--config", str(path)]) == 2
    assert capsys.readouterr().err == (
        f"error: {tmp_path / '.env'} is not UTF-8 text; write it as NAME=value lines, "
        "or remove it.\n"
    )
