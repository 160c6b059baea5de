"""Messages per second of triage over a realistic mix, on one core.

Two figures: the pipeline in-process (parse -> understand -> classify ->
decide, what the daemon pays per message) and the `router triage --json` CLI
end to end over files (process start-up and model load included).

    .venv/bin/python bench/triage.py [--n 2000]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mix import REPO, build  # noqa: E402

from router import classify, config, pipeline  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    args = ap.parse_args()
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    settings = config.load(REPO / "config.toml")
    clf = classify.load(settings.model_path)
    mail = build(args.n)
    size = sum(len(m) for m in mail)
    for raw in mail[:50]:  # warm caches (OpenCC tables, word lists)
        pipeline.triage(raw, settings, clf)
    t0 = time.perf_counter()
    routes: dict[str, int] = {}
    for raw in mail:
        _, d = pipeline.triage(raw, settings, clf)
        routes[d.route] = routes.get(d.route, 0) + 1
    in_process = len(mail) / (time.perf_counter() - t0)

    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i, raw in enumerate(mail):
            p = Path(tmp) / f"{i:05d}.eml"
            p.write_bytes(raw)
            files.append(str(p))
        cmd = [sys.executable, "-m", "router", "--config", str(REPO / "config.toml"), "triage", "--json"]
        t0 = time.perf_counter()
        subprocess.run([*cmd, files[0]], capture_output=True, check=True)
        startup = time.perf_counter() - t0
        t0 = time.perf_counter()
        proc = subprocess.run([*cmd, *files], capture_output=True, check=True)
        total = time.perf_counter() - t0
        cli = len(files) / total
        steady = (len(files) - 1) / max(1e-9, total - startup)
        assert proc.stdout.count(b"\n") == len(files)

    print(f"machine: {platform.processor() or platform.machine()}, pinned to 1 of {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"mix: {len(mail)} messages, {size / len(mail) / 1024:.1f} KiB average; routes {dict(sorted(routes.items()))}")
    print()
    print(f"{'what':<44}{'messages/s':>12}")
    print(f"{'pipeline in-process (daemon path)':<44}{in_process:>12,.0f}")
    print(f"{'router triage --json, whole run':<44}{cli:>12,.0f}")
    print(f"{'router triage --json, after start-up':<44}{steady:>12,.0f}")
    print(f"\nCLI start-up (interpreter, scikit-learn import, model load, one message): {startup:.2f} s")
    print(f"\npeak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
