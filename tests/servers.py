"""Real servers for tests: a Milvus Lite server (`milvus-lite server`) on 127.0.0.1, on a
free port, with its data in a temporary directory; stopped (and killed if need be) at the
end. Where milvus-lite or pymilvus is not installed, the tests that need it skip."""

from __future__ import annotations

import contextlib
import importlib.util
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

MISSING = "milvus-lite or pymilvus is not installed (pip install '.[milvus]'): Milvus tests skipped"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def milvus_available() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("milvus_lite", "pymilvus"))


class MilvusServer:
    """`milvus-lite server` on 127.0.0.1:`port`, storing in `data_dir`; `stop` and `start`
    again keep the data (as a restarted Milvus does)."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / f"milvus-{self.port}.log"

    def start(self, timeout: float = 60.0) -> None:
        executable = shutil.which("milvus-lite", path=str(Path(sys.executable).parent))
        command = [executable] if executable else [sys.executable, "-m", "milvus_lite"]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [*command, "server", "--data-dir", str(self.data_dir), "--host", "127.0.0.1",
                 "--port", str(self.port)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"milvus-lite server exited: {self.log.read_text()[-2000:]}")
            if self.answers():
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"milvus-lite server did not start: {self.log.read_text()[-2000:]}")

    def answers(self) -> bool:
        from pymilvus import MilvusClient

        try:
            MilvusClient(uri=self.uri, timeout=2).list_collections()
            return True
        except Exception:
            return False

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.process = None


@contextlib.contextmanager
def milvus_server(data_dir: Path):  # type: ignore[no-untyped-def]
    if not milvus_available():
        pytest.skip(MISSING)
    server = MilvusServer(data_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()
