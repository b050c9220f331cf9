"""Start and stop a local Azurite (Azure Storage emulator) for the demo and the tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "devstoreaccount1"
# Azurite's fixed, publicly documented development key: not a secret.
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Azurite:
    """Azurite as a child process on free loopback ports, stopped by PID."""

    def __init__(self, location: Path, *, blob_port: int | None = None, queue_port: int | None = None) -> None:
        self.location = location
        self.blob_port = blob_port or _free_port()
        self.queue_port = queue_port or _free_port()
        self.table_port = _free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
            f"BlobEndpoint=http://127.0.0.1:{self.blob_port}/{ACCOUNT};"
            f"QueueEndpoint=http://127.0.0.1:{self.queue_port}/{ACCOUNT};"
        )

    def start(self, timeout: float = 30.0) -> Azurite:
        binary = ROOT / "node_modules" / ".bin" / "azurite"
        if not binary.exists():
            raise RuntimeError("Azurite is not installed: run `npm ci` (make install does)")
        self.location.mkdir(parents=True, exist_ok=True)
        self._proc = subprocess.Popen(
            [str(binary), "--skipApiVersionCheck", "--loose", "--silent", "--disableTelemetry",
             "--location", str(self.location), "--blobHost", "127.0.0.1", "--queueHost", "127.0.0.1",
             "--tableHost", "127.0.0.1", "--blobPort", str(self.blob_port), "--queuePort", str(self.queue_port),
             "--tablePort", str(self.table_port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"Azurite exited with code {self._proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.blob_port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("Azurite did not start in time")

    def stop(self) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGTERM)
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()
        self._proc = None

    def __enter__(self) -> Azurite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
