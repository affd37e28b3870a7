"""`frontline view` never leaves its Solara server behind, even when killed with kill -9
(issue 15: whatever a command starts dies with it)."""

import importlib.util
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from test_executor import _gone

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(importlib.util.find_spec("solara") is None, reason="needs the viz extra")
def test_kill_9_of_view_stops_its_server() -> None:
    with socket.socket() as s:  # a free loopback port
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "sim", "view", "baseline_2024", "--port", str(port)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        children: list[psutil.Process] = []
        while not children:  # the server process has been started
            assert proc.poll() is None, "frontline view exited early"
            assert time.monotonic() < deadline, "no server process within 60 s"
            children = psutil.Process(proc.pid).children(recursive=True)
            time.sleep(0.1)
    finally:
        proc.kill()  # SIGKILL: the parent's own clean-up never runs
        proc.wait()
    left = _gone(children, within=10.0)
    for p in left:
        p.kill()
    assert not left, f"server still running after the parent's kill -9: {left}"
