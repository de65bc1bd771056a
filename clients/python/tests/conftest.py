"""Runs the reporter against the real Nightshift intake: the built `nightshift serve`, spawned
on 127.0.0.1 with a fresh data directory, no model (events are stored and shown, never read)."""

from __future__ import annotations

import base64
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest

ROOT = Path(__file__).resolve().parents[3]
BIN = ROOT / "packages" / "agent-host" / "bin" / "nightshift.js"
BUNDLE = ROOT / "packages" / "agent-host" / "dist" / "bundle" / "main.js"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _node() -> str:
    node = os.environ.get("NIGHTSHIFT_NODE") or shutil.which("node") or ""
    if not node:
        return ""
    try:
        version = subprocess.run([node, "-p", "process.versions.node"], capture_output=True, text=True, timeout=20)
        major, minor = (int(x) for x in version.stdout.strip().split(".")[:2])
    except Exception:
        return ""
    return node if (major, minor) >= (22, 13) else ""


def _unavailable(reason: str):
    if os.environ.get("NIGHTSHIFT_REQUIRE_SERVICES") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


class Intake:
    def __init__(self, url: str, secret: str, data_dir: Path, process: subprocess.Popen) -> None:
        self.url = url
        self.secret = secret
        self.data_dir = data_dir
        self.process = process

    def events(self) -> List[Dict[str, Any]]:
        """Every stored event, in arrival order (read from the service's own SQLite file)."""
        db = sqlite3.connect(f"file:{self.data_dir / 'events.db'}?mode=ro", uri=True)
        try:
            db.row_factory = sqlite3.Row
            rows = db.execute("SELECT id, type, run_key, payload, status FROM events ORDER BY seq").fetchall()
            return [dict(row) for row in rows]
        finally:
            db.close()

    def events_of(self, job_id: str) -> List[Dict[str, Any]]:
        return [e for e in self.events() if e["run_key"] == job_id or e["run_key"].endswith(f"#{job_id}")]

    def wait_for(self, job_id: str, count: int, timeout: float = 15.0) -> List[Dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.events_of(job_id)
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.05)


@pytest.fixture(scope="session")
def intake(tmp_path_factory: pytest.TempPathFactory):
    node = _node()
    if not node:
        _unavailable("Node >= 22.13 is needed to run the Nightshift intake")
    if not BUNDLE.exists():
        _unavailable(f"build the agent host first ({BUNDLE} is missing): pnpm --filter @nightshift/agent-host build")
    work = tmp_path_factory.mktemp("intake")
    secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()
    (work / "nightshift.config.yaml").write_text(
        "dataDir: ./data\n"
        "people:\n  - { name: Anna, role: approver, web: anna }\n"
        "service:\n"
        f"  events: {{ secrets: ['{secret}'] }}\n",
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [node, str(BIN), "serve", "--config", str(work / "nightshift.config.yaml"), "--port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NIGHTSHIFT_CONFIG": ""},
    )
    lines: List[str] = []
    found: Dict[str, str] = {}
    ready = threading.Event()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            match = re.search(r"listening on (http://\S+)", line)
            if match:
                found["url"] = match.group(1)
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(30):
        process.kill()
        pytest.fail("nightshift serve did not start:\n" + "".join(lines))
    yield Intake(found["url"], secret, work / "data", process)
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture()
def closed_port() -> int:
    """A local port nothing listens on: an unreachable agent."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port
