#!/usr/bin/env python3
"""One command on a fresh machine: create .venv, install the project, run the pipeline on the sample.

    python3 bootstrap.py          # set up, then materialize every sample snapshot and write reports
    python3 bootstrap.py test     # set up, then run the test suite
    python3 bootstrap.py dev      # set up, then open the Dagster UI on http://127.0.0.1:3000
    python3 bootstrap.py dashboard  # set up, then open the dashboard on http://127.0.0.1:8501

The test suite drives the dashboard and the Dagster UI in Debian's Chromium and runs the
Spark engine in local mode on Java: `test` installs Debian's chromium and
openjdk-17-jre-headless packages with apt-get when they are missing (as root; otherwise
it says what to install).

Needs only Python 3.10+. Re-running is cheap: installation is skipped when nothing changed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
DAGSTER_HOME = ROOT / "dagster_home"
STAMP = VENV / ".installed-pyproject-hash"


def _run(*args: str | Path, env: dict[str, str] | None = None) -> None:
    completed = subprocess.run([str(a) for a in args], cwd=ROOT, env=env)
    if completed.returncode != 0:
        sys.exit(completed.returncode)


def _become(*args: str | Path, env: dict[str, str]) -> None:
    """Run the command in this process's place (POSIX exec): stopping this process (Ctrl+C,
    SIGTERM from a process manager) stops the UI or the dashboard itself, where a child
    would be left running, holding its port. Windows has no such exec: it waits on a child."""
    argv = [str(a) for a in args]
    if os.name == "nt":
        _run(*argv, env=env)
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.chdir(ROOT)
    os.execve(argv[0], argv, env)


def _project_hash() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def installed() -> bool:
    """Whether .venv holds the project as pyproject.toml now asks (nothing to install)."""
    return PYTHON.exists() and STAMP.exists() and STAMP.read_text() == _project_hash()


def setup() -> dict[str, str]:
    if sys.version_info < (3, 10):  # noqa: UP036 - bootstrap may be run by an older python3
        sys.exit(f"Python 3.10 or newer is needed (this is {sys.version.split()[0]}).")
    if not PYTHON.exists():
        print(f"Creating virtual environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    if not installed():
        print("Installing the project and its dependencies ...", flush=True)
        _run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
        # -qq: pip's own progress and the build backend's notes are not the user's business;
        # errors still print.
        _run(PYTHON, "-m", "pip", "install", "-qq", "-e", ".[dev,spark]")
        STAMP.write_text(_project_hash())
    # The UI and the CLI share one persistent Dagster instance inside the project; `dagster
    # dev` reads .env from the working directory, so a plain `dagster dev` finds it too.
    DAGSTER_HOME.mkdir(exist_ok=True)
    dotenv = ROOT / ".env"
    line = f"DAGSTER_HOME={DAGSTER_HOME}\n"
    if not dotenv.exists() or "DAGSTER_HOME=" not in dotenv.read_text():
        with dotenv.open("a", encoding="utf-8") as fh:
            fh.write(line)
    return dict(os.environ, DAGSTER_HOME=str(DAGSTER_HOME))


# What the tests need from Debian: Chromium for the browser tests (Playwright drives it;
# nothing downloads a browser), Java for the Spark engine's tests (Spark in local mode).
TEST_PACKAGES = {
    Path("/usr/bin/chromium"): ("chromium", "the browser tests"),
    Path("/usr/bin/java"): ("openjdk-17-jre-headless", "the Spark engine's tests"),
}


def ensure_test_packages() -> None:
    """Install the Debian packages the tests need that are missing (as root, with apt-get;
    otherwise say what to install)."""
    missing = {path: spec for path, spec in TEST_PACKAGES.items() if not path.exists()}
    if not missing:
        return
    packages = [package for package, _ in missing.values()]
    can_install = (
        os.name != "nt"
        and hasattr(os, "geteuid")
        and os.geteuid() == 0
        and Path("/usr/bin/apt-get").exists()
    )
    if not can_install:
        for package, why in missing.values():
            print(
                f"{package} is missing: {why} will fail until it is installed "
                f"(sudo apt-get install {package}).",
                flush=True,
            )
        return
    print(f"Installing {', '.join(packages)} (Debian's packages) for the tests ...", flush=True)
    quiet = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    _run("apt-get", "update", "-qq", env=quiet)
    _run("apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages, env=quiet)


def main(argv: list[str]) -> None:
    command = argv[0] if argv else "run"
    if command in ("-h", "--help", "help"):
        print(__doc__)
        return
    if command not in ("run", "test", "dev", "dashboard"):
        sys.exit(f"unknown command {command!r}: use run, test, dev or dashboard")
    env = setup()
    if command == "run":
        _become(BIN / "engagement-pipeline", "run", *argv[1:], env=env)
    elif command == "test":
        ensure_test_packages()
        _become(PYTHON, "-m", "pytest", *argv[1:], env=env)
    elif command == "dev":
        _become(BIN / "dagster", "dev", "--host", "127.0.0.1", "--port", "3000", *argv[1:], env=env)
    else:
        _become(BIN / "engagement-pipeline", "dashboard", *argv[1:], env=env)


if __name__ == "__main__":
    main(sys.argv[1:])
