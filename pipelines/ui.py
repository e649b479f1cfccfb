"""``bucketlens ui``: the Dagster webserver and daemon over this repository's workspace."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bucketlens.settings import Settings
from pipelines.instance import REPO_ROOT, prepare_dagster_home


def _tool(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def serve(settings: Settings, host: str, port: int, with_daemon: bool = True) -> int:
    """Run webserver (+ daemon) until Ctrl-C; both always get ``-w workspace.yaml`` so a
    ``[tool.dagster]`` block can never redirect them, and share ``$DAGSTER_HOME``."""
    home = prepare_dagster_home(settings)
    env = {**os.environ, "DAGSTER_HOME": str(home), "BUCKETLENS_HOME": str(settings.home)}
    env.setdefault("BUCKETLENS_SOURCE", settings.source)
    workspace = str(REPO_ROOT / "workspace.yaml")
    commands = [[_tool("dagster-webserver"), "-w", workspace, "-h", host, "-p", str(port)]]
    if with_daemon:
        commands.append([_tool("dagster-daemon"), "run", "-w", workspace])
    processes = [subprocess.Popen(cmd, cwd=REPO_ROOT, env=env) for cmd in commands]
    print(
        f"Dagster UI: http://{host}:{port}  (DAGSTER_HOME={home}; Ctrl-C stops webserver and daemon)",
        flush=True,
    )
    try:
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for p in processes:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in processes:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
    return (
        max((p.returncode or 0) for p in processes)
        if any(p.returncode not in (0, None, -15) for p in processes)
        else 0
    )
