"""Messages per second of triage over a realistic mix, on one core.

The pipeline in-process (parse -> understand -> classify -> decide, what the
daemon pays per message) three ways: the fast TF-IDF model alone, the shipped
two-stage model (the careful model only for unsure or non-zh/en mail), and
every model-decided mail through the careful model (the worst case), each
with its p95 per-message latency; then the `router triage --json` CLI end to
end over files (process start-up and model load included).

    .venv/bin/python bench/triage.py [--n 2000]
    .venv/bin/python bench/triage.py --before 5e95159 [--after REF] [--n 1500] [--rounds 9]
    .venv/bin/python bench/triage.py --before 5e95159 [--after REF] --n 300 --instructions
    .venv/bin/python bench/triage.py --checks [REF] [--n 1500] [--rounds 3]

`--before REF` measures the in-process pipeline of the `router` package as
it was at git REF against this checkout's (or `--after REF`'s), in the same
run: child processes pinned to one core take turns (before, after, after,
before, ...), each timing the same mix in CPU time, so a busy shared machine
slows both alike.  It prints the CPU microseconds per message of each and
the added share per round: median, min, max and spread over the rounds
(issue 13's budget: the new checks may add at most 10 %).  With
`--instructions` it counts each side's instructions per message under
valgrind instead: one figure per side that the machine's load cannot move.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from mix import REPO, build

from router import classify, config, pipeline


def _cpu_us_per_message(n: int, passes: int = 1) -> float:
    """CPU microseconds per message of `pipeline.triage` over the mix (the child's side of --before),
    timed on the last of `passes` passes over it (--instructions runs 1 and 2 and takes the difference)."""
    settings = config.load(REPO / "config.toml")
    clf = classify.load(settings.model_path)
    mail = build(n)
    for raw in mail[:50]:
        pipeline.triage(raw, settings, clf)
    # start-up's objects (model, numpy, the mix) leave the collector's view: its passes over
    # the oldest generation then cost the same whatever each side imported
    gc.collect()
    gc.freeze()
    t0 = 0.0
    for _ in range(passes):
        t0 = time.process_time()
        for raw in mail:
            pipeline.triage(raw, settings, clf)
    return (time.process_time() - t0) / len(mail) * 1e6


def _checks_us_per_message(n: int, rounds: int = 3) -> dict[str, float]:
    """CPU µs per message of each of issue 13's checks over the parsed mix, as `pipeline.understand`
    calls them (best of `rounds`; each check looped over all messages)."""
    from router import parse
    from router.understand import compromise, forwarded, phishing, secrets, urgency

    p = pipeline
    settings = config.load(REPO / "config.toml")
    mails = [m for m in (parse.parse(raw, settings.limits) for raw in build(n)) if not m.problem]
    shorteners = phishing.DEFAULT_SHORTENERS | settings.teams.extra_shorteners
    official = settings.teams.official_domains
    ctx = []
    for m in mails:
        parts = forwarded.split(m.body)
        attached = p._attached_messages(m)
        texts = p._attached_text(m)
        text = "\n".join([m.subject, m.body, *(t for t, _lure in texts)])
        hits = secrets.find_secrets(text)
        words = p._new_words(m, parts)
        found = p._entities(m, parts, attached, hits, text, settings)
        signs = compromise.signals(p.to_simplified(p.normalize(f"{m.subject}\n{m.new_text}")).lower())
        report = phishing.assess(m.body, m.subject, official=official, attached=attached, shorteners=shorteners,
                                 parts=forwarded.Split(words, parts.forwarded))
        ctx.append((m, parts, attached, texts, text, hits, words, found, signs, report))
    steps = {
        "forwarded split": lambda c: forwarded.split(c[0].body),
        "attached messages, lure spans": lambda c: (p._attached_messages(c[0]), p._by_owner(c[5], p._lure_spans(c[0], c[1], c[3]))),
        "entities": lambda c: p._entities(c[0], c[1], c[2], c[5], c[4], settings),
        "phishing": lambda c: phishing.assess(c[0].body, c[0].subject, official=official, attached=c[2], shorteners=shorteners,
                                              parts=forwarded.Split(c[6], c[1].forwarded)),
        "urgency": lambda c: urgency.assess(f"{c[0].subject}\n{c[6]}", amounts=p._own_amounts(c[7], c[1]),
                                            thresholds=settings.teams.thresholds, compromise=p._attacked(c[8]),
                                            extra=phishing.priority_signals(c[9])),
        "chaser": lambda c: urgency.chaser(c[6], c[0].subject),
    }
    best: dict[str, float] = {}
    for _ in range(rounds):
        for name, step in steps.items():
            t0 = time.process_time()
            for c in ctx:
                step(c)
            best[name] = min(best.get(name, float("inf")), (time.process_time() - t0) / len(ctx) * 1e6)
    return best


def checks(n: int, rounds: int, other: str | None) -> None:
    """Per-check CPU time on the mix for this checkout (and the tree at `other`), in child processes on one core."""
    core = str(sorted(os.sched_getaffinity(0))[0])
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"this checkout": "-"} | ({other: _export(other, os.path.join(tmp, "other"))} if other else {})
        figures: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
        for _ in range(rounds):
            for name, tree in trees.items():
                out = subprocess.run(["taskset", "-c", core, sys.executable, "-c", _CHILD, tree, str(Path(__file__).parent),
                                      str(n), "checks"], capture_output=True, text=True, check=True, cwd=REPO).stdout
                figures[name].append(json.loads(out.splitlines()[-1]))
    med = {name: {k: float(np.median([f[k] for f in fs])) for k in fs[0]} for name, fs in figures.items()}
    print(json.dumps({"n": n, "rounds": rounds, "checks_cpu_us_per_message": figures}))
    names = list(trees)
    print(f"\nissue 13's checks over the mix ({n} messages), CPU µs per message, median of {rounds} rounds")
    print(f"{'check':<32}" + "".join(f"{x:>16}" for x in names))
    for k in med[names[0]]:
        print(f"{k:<32}" + "".join(f"{med[x][k]:>16.1f}" for x in names))
    print(f"{'all':<32}" + "".join(f"{sum(med[x].values()):>16.1f}" for x in names))


NO_CHECKS = "no-checks"  # --before no-checks: this checkout with issue 13's checks stubbed out


def _stub_checks() -> None:
    """Replace issue 13's checks in `pipeline` with empty answers: the same commit's fast path without them.

    Why: a git ref before the checks also lacks everything else merged since
    (issue 12's model changes among them); this isolates what the checks cost.
    """
    from router.understand import entities, forwarded, phishing, urgency

    forwarded.split = lambda text: forwarded.Split(own=text)  # type: ignore[assignment]
    pipeline._attached_messages = lambda mail, most=5: []  # type: ignore[assignment]
    entities.extract = lambda *a, **k: []  # type: ignore[assignment]
    phishing.assess = lambda *a, **k: None  # type: ignore[assignment]
    urgency.assess = lambda *a, **k: None  # type: ignore[assignment]
    urgency.chaser = lambda *a, **k: urgency.Chaser(False)  # type: ignore[assignment]


_CHILD = """
import sys
tree, bench, n, passes = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
stub = tree.startswith("no-checks:")  # the after side's tree, its checks stubbed out
tree = tree.split(":", 1)[1] if stub else tree
if tree != "-":  # the older package: not the editable install's finder
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
    sys.path.insert(0, tree)
sys.path.insert(0, bench)
import triage
import router
assert tree == "-" or router.__file__.startswith(tree), router.__file__
if stub:
    triage._stub_checks()
if sys.argv[4] == "checks":
    import json
    print(json.dumps(triage._checks_us_per_message(n)))
else:
    print(triage._cpu_us_per_message(n, int(passes)))
"""


def _export(ref: str, into: str) -> str:
    """The `router` package as it was at git `ref`, unpacked under `into`."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", ref, "router"], capture_output=True, check=True).stdout
    os.makedirs(into)
    subprocess.run(["tar", "-x", "-C", into], input=archive, check=True)
    return into


def _child(core: str, tree: str, n: int) -> float:
    out = subprocess.run(["taskset", "-c", core, sys.executable, "-c", _CHILD, tree, str(Path(__file__).parent), str(n), "1"],
                         capture_output=True, text=True, check=True, cwd=REPO).stdout
    return float(out.split()[-1])


def _instructions(tree: str, n: int, passes: int) -> int:
    """Instructions the child executes (valgrind's cachegrind, no cache simulation): start-up and `passes` passes."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}  # the same dict and set orders in every run
    proc = subprocess.run(["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
                           sys.executable, "-c", _CHILD, tree, str(Path(__file__).parent), str(n), str(passes)],
                          capture_output=True, text=True, check=True, cwd=REPO, env=env)
    found = re.search(r"I\s+refs:\s+([\d,]+)", proc.stderr)
    if found is None:
        raise SystemExit(f"no instruction count in valgrind's output:\n{proc.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def instructions(ref: str, n: int, after: str | None = None) -> None:
    """Instructions per message of the pipeline at `ref` and now (or at `after`), under valgrind.

    Why: on a shared machine CPU time moves with what the other jobs do to
    the caches; the number of instructions does not (same input, same hash
    seed: the same count every run).  Each side runs twice, with one and
    with two passes over the mix; the difference is one pass, start-up and
    model load cancelled.  Valgrind runs the child about 50 times slower.
    """
    with tempfile.TemporaryDirectory() as tmp:
        after_tree = _export(after, os.path.join(tmp, "after")) if after else "-"
        trees = {"before": f"{NO_CHECKS}:{after_tree}" if ref == NO_CHECKS else _export(ref, os.path.join(tmp, "before")),
                 "after": after_tree}
        # counts do not depend on what else runs, so the four children run at once
        with ThreadPoolExecutor(max_workers=4) as pool:
            runs = {(name, passes): pool.submit(_instructions, tree, n, passes)
                    for name, tree in trees.items() for passes in (1, 2)}
        per = {name: (runs[name, 2].result() - runs[name, 1].result()) / n for name in trees}
    print(json.dumps({"ref": ref, "after": after or "checkout", "n": n, "instructions_per_message": per}))
    print(f"\npipeline in-process over {n} messages, instructions per message (valgrind cachegrind, one pass)")
    print(f"{'before (' + ref + ')':<28}{per['before']:>14,.0f}")
    print(f"{'after (' + (after or 'this checkout') + ')':<28}{per['after']:>14,.0f}")
    print(f"{'added':<28}{(per['after'] / per['before'] - 1) * 100:>13.1f}%")


def _quantile(xs: list[float], q: float) -> float:
    return float(np.quantile(np.array(xs), q))


def compare(ref: str, n: int, rounds: int, after: str | None = None) -> None:
    """Per-message CPU time of the pipeline at `ref` and now (or at `after`), taking turns in child processes.

    Why this shape: the machine is shared, so one pair of runs can differ by
    10-25 % from the next.  Each round runs both sides back to back on the
    same core, in CPU time, and alternates which goes first (ABBA), so a load
    that rises or falls during a round hurts both sides alike; the figure is
    the per-round ratio after/before, reported as its median over the rounds
    with its min, max and interquartile range, beside the ratio of the best
    rounds (the old single figure).  A lucky draw shows up as a wide spread.
    """
    core = str(sorted(os.sched_getaffinity(0))[0])
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        after_tree = _export(after, os.path.join(tmp, "after")) if after else "-"
        trees = {"before": f"{NO_CHECKS}:{after_tree}" if ref == NO_CHECKS else _export(ref, os.path.join(tmp, "before")),
                 "after": after_tree}
        figures: dict[str, list[float]] = {"before": [], "after": []}
        for i in range(rounds):
            for name in ("before", "after") if i % 2 == 0 else ("after", "before"):
                figures[name].append(_child(core, trees[name], n))
    load1 = os.getloadavg()
    ratios = [a / b for a, b in zip(figures["after"], figures["before"], strict=True)]
    added = [(r - 1) * 100 for r in ratios]
    print(json.dumps({"ref": ref, "after": after or "checkout", "n": n, "rounds": rounds, "cpu_us_per_message": figures,
                      "added_percent": [round(a, 2) for a in added], "loadavg_start": load0, "loadavg_end": load1}))
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, child processes pinned to core {core}, "
          f"Python {platform.python_version()}; load average {load0[0]:.2f} at start, {load1[0]:.2f} at end")
    print(f"pipeline in-process over {n} messages, CPU µs per message, {rounds} rounds (ABBA order)\n")
    print(f"{'':<28}{'median':>10}{'min':>10}{'max':>10}")
    for name, label in (("before", f"before ({ref})"), ("after", f"after ({after or 'this checkout'})")):
        xs = figures[name]
        print(f"{label:<28}{_quantile(xs, 0.5):>10,.0f}{min(xs):>10,.0f}{max(xs):>10,.0f}")
    print(f"\n{'added, per-round ratio':<28}{_quantile(added, 0.5):>9.1f}%{min(added):>9.1f}%{max(added):>9.1f}%"
          f"   interquartile {_quantile(added, 0.25):.1f} to {_quantile(added, 0.75):.1f} %")
    best = (min(figures["after"]) / min(figures["before"]) - 1) * 100
    print(f"{'added, best round of each':<28}{best:>9.1f}%")
    print(f"\nrounds above 10 %: {sum(a > 10 for a in added)} of {rounds}; above 6 %: {sum(a > 6 for a in added)} of {rounds}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--before", metavar="REF", help="compare the pipeline at this git ref with this checkout's "
                    f"({NO_CHECKS!r}: this checkout with issue 13's checks stubbed out)")
    ap.add_argument("--after", metavar="REF", help="with --before: the other side at this git ref, not this checkout")
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--instructions", action="store_true",
                    help="with --before: count instructions under valgrind instead of timing (slow, load-independent)")
    ap.add_argument("--checks", nargs="?", const="", metavar="REF",
                    help="time issue 13's checks one by one on the mix (and at git REF beside this checkout)")
    args = ap.parse_args()
    if args.checks is not None:
        checks(args.n, args.rounds, args.checks or None)
        return
    if args.before and args.instructions:
        instructions(args.before, args.n, args.after)
        return
    if args.before:
        compare(args.before, args.n, args.rounds, args.after)
        return
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    settings = config.load(REPO / "config.toml")
    clf = classify.load(settings.model_path)
    mail = build(args.n)
    size = sum(len(m) for m in mail)
    fast_only = dataclasses.replace(clf, careful=None, _compiled=None)
    worst = dataclasses.replace(clf, metadata={**clf.metadata, "careful_threshold": 1.01}, _compiled=None)
    runs = {"fast model alone": fast_only}
    if clf.careful is not None:
        runs["shipped two-stage model"] = clf
        runs["careful model for every model-decided mail"] = worst
    results = {}
    routes: dict[str, int] = {}
    for name, model in runs.items():
        for raw in mail[:50]:  # warm caches (OpenCC tables, word lists, the embedding engine)
            pipeline.triage(raw, settings, model)
        stages: dict[str, int] = {}
        lat = []
        routes = {}
        t0 = time.perf_counter()
        for raw in mail:
            t1 = time.perf_counter()
            _, d = pipeline.triage(raw, settings, model)
            lat.append(time.perf_counter() - t1)
            routes[d.route] = routes.get(d.route, 0) + 1
            stage = d.model.stage.split(" ")[0] if d.model else "rule"
            stages[stage] = stages.get(stage, 0) + 1
        results[name] = (len(mail) / (time.perf_counter() - t0), float(np.percentile(lat, 95)) * 1000, stages)
    in_process = results["shipped two-stage model" if clf.careful is not None else "fast model alone"][0]

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
    print(f"{'pipeline in-process (daemon path)':<46}{'messages/s':>12}{'p95 ms':>9}  decided by")
    for name, (rate, p95, stages) in results.items():
        print(f"{name:<46}{rate:>12,.0f}{p95:>9.1f}  {dict(sorted(stages.items()))}")
    print()
    print(f"{'what':<46}{'messages/s':>12}")
    print(f"{'pipeline in-process, shipped model':<46}{in_process:>12,.0f}")
    print(f"{'router triage --json, whole run':<46}{cli:>12,.0f}")
    print(f"{'router triage --json, after start-up':<46}{steady:>12,.0f}")
    print(f"\nCLI start-up (interpreter, scikit-learn import, model load, one message): {startup:.2f} s")
    print(f"\npeak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
