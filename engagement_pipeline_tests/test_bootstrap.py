"""bootstrap.py's own arguments (setting up and running are what every other test uses)."""

import subprocess
import sys
from pathlib import Path

BOOTSTRAP = Path(__file__).resolve().parents[1] / "bootstrap.py"


def _bootstrap(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(BOOTSTRAP), *args], capture_output=True, text=True, timeout=60
    )


def test_help_lists_the_commands_and_sets_nothing_up():
    for flag in ("--help", "-h", "help"):
        done = _bootstrap(flag)
        assert done.returncode == 0
        assert "python3 bootstrap.py test" in done.stdout
        assert "Installing" not in done.stdout and done.stderr == ""


def test_an_unknown_command_names_the_ones_there_are():
    done = _bootstrap("deploy")
    assert done.returncode == 1
    assert done.stderr.strip() == "unknown command 'deploy': use run, test, dev or dashboard"
