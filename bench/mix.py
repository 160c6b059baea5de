"""A realistic mix of support mail, built from training_data/ and samples/.

Chinese and English at their corpus weights, 5 % in the other languages.

Shared by the benchmarks: plain and HTML bodies, UTF-8 and legacy Chinese
charsets (GB2312 label on GBK text, Big5), quoted replies, image and PDF
attachments, and the sample mailbox's bounces, auto-replies and malformed
mail, in a fixed pseudo-random order.
"""

from __future__ import annotations

import json
import random
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
import datetime as dt

REPO = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 60
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\n" + b"0" * 20000 + b"\n%%EOF\n"


def rows() -> list[dict[str, str]]:
    out = []
    for path in sorted((REPO / "training_data").glob("*.jsonl")):
        out += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return out


# Share of mail in languages other than Chinese and English: the exchange of the
# mission answers in zh and en, and a few customers write in their own language.
OTHER_LANGUAGES = 0.05


def build(n: int, seed: int = 7) -> list[bytes]:
    rnd = random.Random(seed)
    other_rnd = random.Random(seed + 1)  # its own stream, so the zh/en draws stay as they were
    everything = rows()
    data = [r for r in everything if r["lang"] in ("zh", "en")]
    others = [r for r in everything if r["lang"] not in ("zh", "en")]
    samples = [p.read_bytes() for p in sorted((REPO / "samples").glob("*.eml"))]
    out: list[bytes] = []
    for i in range(n):
        if i % 20 == 0:
            out.append(samples[(i // 20) % len(samples)])
            continue
        r = other_rnd.choice(others) if others and other_rnd.random() < OTHER_LANGUAGES else rnd.choice(data)
        msg = EmailMessage()
        msg["From"] = f"customer{i}@mail{i % 50}.example"
        msg["To"] = "support@exchange.example"
        msg["Subject"] = r["subject"] or "(no subject)"
        msg["Date"] = format_datetime(dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc) + dt.timedelta(minutes=i))
        msg["Message-ID"] = f"<bench-{seed}-{i}@mail.example>"
        text = r["text"]
        kind = rnd.random()
        if r["lang"] == "zh" and kind < 0.3:
            try:
                msg.set_content(text.encode("gb18030"), maintype="text", subtype="plain", cte="base64")
                msg.replace_header("Content-Type", 'text/plain; charset="gb2312"')
            except UnicodeEncodeError:
                msg.set_content(text)
        elif kind < 0.45:
            html = "<html><body>" + "".join(f"<p>{line}</p>" for line in text.splitlines()) + "</body></html>"
            msg.set_content(text)
            msg.add_alternative(html, subtype="html")
        else:
            msg.set_content(text)
        if rnd.random() < 0.25:
            msg.add_attachment(PNG, maintype="image", subtype="png", filename=rnd.choice(["passport.png", "IMG_2031.png", "截图.png", "login_history.png"]))
        if rnd.random() < 0.1:
            msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="statement.pdf")
        out.append(bytes(msg))
    return out
