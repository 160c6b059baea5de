"""router.records: the typed Decision, its route changes, and the SPEC 8 record at the edge."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from router import config, pipeline
from router.records import Decision, File, Forward, Reply

SETTINGS = config.load(search=False)
SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def _decisions() -> list[Decision]:
    out = []
    for path in sorted(SAMPLES.rglob("*.eml"))[:40]:
        out.append(pipeline.triage(path.read_bytes(), SETTINGS, None)[1])
    assert out, "no sample mail found"
    return out


def test_the_record_reads_back_into_the_same_decision() -> None:
    for d in _decisions():
        record = d.to_record()
        assert Decision.from_record(record).to_record() == record


def test_with_route_rebuilds_forward_and_filing_and_keeps_the_acknowledgement() -> None:
    routing = SETTINGS.routing()
    d = _decisions()[0]
    d = replace(d, secrets=(), actions=(Forward("x@y"), Reply("en"), File("Somewhere")))
    moved = d.with_route("compliance", "moved for a test", routing)
    assert moved.route == "compliance"
    assert moved.actions == (Forward(SETTINGS.routes["compliance"]), Reply("en"), File(SETTINGS.folders["compliance"]))
    assert moved.reasons[-1] == "moved for a test" and moved.reasons[:-1] == d.reasons
    review = moved.with_route("review", "needs a person", routing)
    expected = (SETTINGS.routes["review"],) if "review" in SETTINGS.routes else ()
    assert review.forwards == expected and review.reply_template == "en" and review.folder == SETTINGS.folders["review"]
    secret = replace(moved, secrets=("password",)).with_route("general", "x", routing)
    assert secret.folder == SETTINGS.folders["restricted"]


def test_set_aside_keeps_what_was_done_and_says_where_it_went() -> None:
    d = replace(_decisions()[0], actions=(Forward("team@x"), File("General")))
    aside = d.set_aside("dead_letter", "Dead", "permanent SMTP failure")
    assert aside.route == "dead_letter" and aside.actions == (Forward("team@x"), File("Dead"))
    assert aside.to_record()["actions"][-1] == {"type": "move", "folder": "Dead"}
