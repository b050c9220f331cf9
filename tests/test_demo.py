"""`make demo`'s script, end to end in a fresh process: exits 0, prints answers and analyses, leaves nothing running."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent


def _service_pids() -> set[int]:
    found = set()
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if ".data/demo" in cmdline:
            found.add(proc.info["pid"])
    return found


def test_demo_runs_and_stops_everything() -> None:
    before = _service_pids()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_OPENAI", "OPENAI_", "DATABASE_URL"))}
    result = subprocess.run([sys.executable, "-m", "scripts.demo"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    answers = re.findall(r"^A: (.*)$", out, re.M)
    assert len(answers) == 3
    assert all(re.search(r"\[\d+\]", a) for a in answers), answers
    assert '"category"' in out and '"priority"' in out
    assert "token usage" in out
    assert _service_pids() - before == set()
