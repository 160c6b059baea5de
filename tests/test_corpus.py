"""Malformed and hostile mail from other parsers' test suites (../shared/corpora/mime).

Every file must get a decision record from `router triage --json`, in order,
with no traceback, and each must be triaged in under 10 s with the process
staying under 1 GiB of memory (a stated requirement: a bound, not a
benchmark).  CI always has ../shared beside the checkout, so a missing corpus
FAILS here; it is never skipped, because a skipped test reads as a pass.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "mime"
MAX_SECONDS_PER_FILE = 10.0
MAX_PEAK_BYTES = 1 << 30  # 1 GiB


def corpus_files() -> list[Path]:
    """Every message file of the corpus; a missing or empty corpus fails the calling test."""
    if not CORPUS.is_dir():
        pytest.fail(f"MIME corpus not found at {CORPUS}: CI keeps ../shared/corpora/mime beside the checkout")
    files = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name != "README.md")
    if not files:
        pytest.fail(f"MIME corpus at {CORPUS} holds no message files")
    return files


def test_cli_triage_gives_one_record_per_file() -> None:
    files = corpus_files()
    env = {k: v for k, v in os.environ.items() if k != "ROUTER_CONFIG"}
    proc = subprocess.run(
        [sys.executable, "-m", "router", "triage", "--json", *map(str, files)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=MAX_SECONDS_PER_FILE * len(files),
    )
    assert "Traceback" not in proc.stderr, proc.stderr[-4000:]
    assert proc.returncode == 0, proc.stderr[-4000:]
    lines = proc.stdout.splitlines()
    assert len(lines) == len(files), f"{len(lines)} records for {len(files)} files"
    for path, line in zip(files, lines):
        record = json.loads(line)
        assert record["file"] == str(path)
        assert record.get("route"), f"{path.name}: no route in {record}"


def test_each_file_within_time_and_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    files = corpus_files()
    from router import config, pipeline
    from router.commands.triage import load_model

    monkeypatch.chdir(REPO)  # the default settings name the model relative to the checkout, as for the CLI
    monkeypatch.delenv("ROUTER_CONFIG", raising=False)
    settings = config.load()
    classifier = load_model(settings, None)
    slow = []
    for path in files:
        raw = path.read_bytes()
        start = time.perf_counter()
        _mail, decision = pipeline.triage(raw, settings, classifier)
        elapsed = time.perf_counter() - start
        assert decision.route, path.name
        if elapsed >= MAX_SECONDS_PER_FILE:
            slow.append(f"{path.name}: {elapsed:.1f} s")
    assert not slow, f"over {MAX_SECONDS_PER_FILE:.0f} s: {slow}"
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_bytes = peak if sys.platform == "darwin" else peak * 1024  # Linux reports KiB
    assert peak_bytes < MAX_PEAK_BYTES, f"peak memory {peak_bytes / 2**20:.0f} MiB"
