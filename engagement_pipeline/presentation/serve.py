"""Start the dashboard (Streamlit) on 127.0.0.1 for one config."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from engagement_pipeline.config import CONFIG_PATH_ENV

APP = Path(__file__).with_name("dashboard.py")


def dashboard_command(port: int) -> list[str]:
    """The Streamlit command line: local only, no browser opened, no usage statistics sent."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address=127.0.0.1",
        f"--server.port={port}",
        "--server.headless=true",
        "--browser.gatherUsageStats=false",
        "--global.developmentMode=false",
        "--client.toolbarMode=viewer",  # no "Deploy" button: this is a local, read-only view
    ]


def serve_dashboard(config_path: Path, port: int) -> int:
    """Run the dashboard until interrupted; the config reaches it through $CONFIG_PATH.

    On POSIX the command becomes Streamlit (exec), so stopping this process (Ctrl+C, kill,
    a supervisor) stops the server: a child left behind kept the port."""
    env = dict(os.environ, **{CONFIG_PATH_ENV: str(Path(config_path).resolve())})
    print(f"Dashboard on http://127.0.0.1:{port} (Ctrl+C stops it)", flush=True)
    command = dashboard_command(port)
    if os.name == "posix":
        os.execve(command[0], command, env)
    try:
        return subprocess.run(command, env=env).returncode
    except KeyboardInterrupt:
        return 0
