"""Assemble the evaluation .eml files from hand-written texts (issue 12, part 2).

Why a script: the texts below were written one by one by hand; only the MIME
around them and the attachment bytes are produced here, so the structures of
real clients (iPhone/Mac Mail, Outlook incl. TNEF, Gmail, QQ Mail, 163,
Foxmail, forwarded messages, ZIPs) are exact and reproducible.  Everything is
deterministic (seeded RNG, fixed dates, boundaries and Message-IDs), so a
re-run writes the same bytes as long as Pillow's JPEG/PNG encoders do not
change.  The attachments are synthetic pictures and PDFs with real magic
bytes (JPEG/PNG via Pillow, a HEIF ``ftyp heic`` box, ``%PDF-1.x`` with an
embedded scan) so file-type sniffing sees the right type (see
router/understand/evidence.py ``sniff``).

Run: ``.venv/bin/python evaluation/triage/build_eml.py`` (needs numpy and
Pillow, both in the dev environment; about a minute).  It rewrites eml/*.eml
and eml.jsonl.  ``--check`` validates the whole set (both writers' .jsonl
files and the manifest) without rebuilding anything.

Structures follow RFC 5322 (headers), RFC 2045/2046 (MIME multipart,
base64, quoted-printable), RFC 2047/2231 (encoded file names), RFC 2387
(multipart/related), RFC 2183 (Content-Disposition), RFC 2392 (cid:),
RFC 2046 5.2.1 (message/rfc822) and MS-OXTNEF (winmail.dat).
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import quopri
import random
import struct
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from email.header import Header
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
OUT = HERE / "eml"
MANIFEST = HERE / "eml.jsonl"
CRLF = "\r\n"
TO = "support@exchange.example"


# --- attachment bytes -------------------------------------------------------


def _rng(seed: str) -> np.random.Generator:
    return np.random.default_rng(int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big"))


def _photo(seed: str, size: tuple[int, int], sigma: float) -> Image.Image:
    """A phone photo of a document on a table: a pale card on a darker surface, with sensor noise."""
    rng = _rng(seed)
    w, h = size
    base = np.empty((h, w, 3), dtype=np.float32)
    table = rng.uniform(60, 140, 3)
    base[:] = table
    grad = np.linspace(0.85, 1.15, w, dtype=np.float32)[None, :, None]
    base *= grad
    x0, y0 = int(w * rng.uniform(0.08, 0.15)), int(h * rng.uniform(0.12, 0.2))
    x1, y1 = int(w * rng.uniform(0.85, 0.92)), int(h * rng.uniform(0.75, 0.85))
    base[y0:y1, x0:x1] = rng.uniform(200, 235, 3)
    for _ in range(int(rng.integers(6, 10))):  # printed lines and the photo box
        ly = int(rng.integers(y0 + 20, y1 - 20))
        lx = int(rng.integers(x0 + (x1 - x0) // 3, x1 - 60))
        base[ly : ly + max(6, h // 90), lx : min(x1 - 20, lx + int(rng.integers(80, 400)))] = 70
    base[y0 + 30 : y0 + (y1 - y0) // 2, x0 + 30 : x0 + (x1 - x0) // 4] = rng.uniform(90, 160, 3)
    base += rng.normal(0, sigma, base.shape).astype(np.float32)
    return Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")


def _exif(make: str, model: str) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = make
    exif[0x0110] = model
    exif[0x0131] = "18.1.1" if make == "Apple" else "G998BXXU9EXK1"
    exif[0x0132] = "2026:12:03 10:15:22"
    return exif.tobytes()


def jpeg(seed: str, target: int, size: tuple[int, int] = (2016, 1512), make: str = "Apple", model: str = "iPhone 14") -> bytes:
    """A JPEG photo of about `target` bytes (noise level found by bisection)."""
    lo, hi, best = 0.0, 40.0, b""
    for _ in range(9):
        mid = (lo + hi) / 2
        buf = io.BytesIO()
        _photo(seed, size, mid).save(buf, "JPEG", quality=88, exif=_exif(make, model))
        best = buf.getvalue()
        if len(best) < target:
            lo = mid
        else:
            hi = mid
    return best


def screenshot_png(seed: str, lines: list[str], target: int = 240_000, size: tuple[int, int] = (1179, 2556)) -> bytes:
    """A phone screenshot of about `target` bytes: flat UI, rows of text, a status bar and a banner photo.

    The flat UI packs to a few KB; the banner (noise, which PNG cannot pack) brings it to a real size.
    """
    rng = _rng(seed)
    img = Image.new("RGB", size, (246, 247, 249))
    draw = ImageDraw.Draw(img)
    w, h = size
    draw.rectangle((0, 0, w, 140), fill=(255, 255, 255))
    draw.text((60, 60), "9:41", fill=(0, 0, 0))
    y = 220
    for line in lines:
        draw.rectangle((40, y, w - 40, y + 150), fill=(255, 255, 255), outline=(225, 228, 232))
        draw.text((80, y + 55), line, fill=(30, 32, 36))
        y += 190
    rows = max(8, min(h - y - 60, target // ((w - 80) * 3)))
    banner = rng.integers(0, 255, (rows, w - 80, 3), dtype=np.uint8)
    img.paste(Image.fromarray(banner, "RGB"), (40, y + 20))
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=False)
    return buf.getvalue()


def logo_png(seed: str) -> bytes:
    """An Outlook signature logo: a small flat PNG (a few KB)."""
    rng = _rng(seed)
    img = Image.new("RGB", (180, 60), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    colour = tuple(int(c) for c in rng.integers(0, 160, 3))
    draw.rectangle((4, 10, 50, 50), fill=colour)
    draw.text((60, 22), "ADEBAYO & CO", fill=colour)
    noise = rng.integers(0, 255, (14, 100, 3), dtype=np.uint8)
    img.paste(Image.fromarray(noise, "RGB"), (60, 40))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def banner_jpeg(seed: str) -> bytes:
    """A signature banner JPEG (~10 KB), named image002.jpg by Outlook."""
    buf = io.BytesIO()
    _photo(seed, (600, 120), 6.0).save(buf, "JPEG", quality=80)
    return buf.getvalue()


def heic(seed: str, target: int) -> bytes:
    """HEIF with the iPhone's box layout: ftyp heic/mif1, a meta box with hdlr 'pict', then mdat.

    The coded picture is random bytes (we cannot encode HEVC here); sniffers
    read the ftyp brands (ISO/IEC 23008-12), which are real.
    """
    rng = _rng(seed)
    ftyp = struct.pack(">I4s4sI4s4s4s", 28, b"ftyp", b"heic", 0, b"mif1", b"MiHE", b"heic")
    hdlr = struct.pack(">I4sI4s4s12sB", 34, b"hdlr", 0, b"\0\0\0\0", b"pict", b"\0" * 12, 0)
    pitm = struct.pack(">I4sIH", 14, b"pitm", 0, 1)
    meta_body = struct.pack(">I", 0) + hdlr + pitm
    meta = struct.pack(">I4s", 8 + len(meta_body), b"meta") + meta_body
    payload = rng.integers(0, 256, target - len(ftyp) - len(meta) - 8, dtype=np.uint8).tobytes()
    mdat = struct.pack(">I4s", 8 + len(payload), b"mdat") + payload
    return ftyp + meta + mdat


def pdf(seed: str, title: str, lines: list[str], scan_target: int) -> bytes:
    """A one-page PDF 1.4: a text block plus a scanned page as a DCT image (so it has a real size)."""
    scan = jpeg(seed + "/scan", scan_target, size=(1240, 1754), make="Canon", model="DR-C225")
    text = "BT /F1 11 Tf 56 800 Td 14 TL (" + _pdf_escape(title) + ") Tj"
    for line in lines:
        text += " T* (" + _pdf_escape(line) + ") Tj"
    text += " ET q 480 0 0 680 56 60 cm /Im1 Do Q"
    content = text.encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> /XObject << /Im1 6 0 R >> >> >>"),
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Type /XObject /Subtype /Image /Width 1240 /Height 1754 /ColorSpace /DeviceRGB"
        b" /BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n" % len(scan) + scan + b"\nendstream",
        b"<< /Producer (Quartz PDFContext) /Title (" + _pdf_escape(title).encode("latin-1") + b") >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 7 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _pdf_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def zip_of(members: list[tuple[str, bytes]]) -> bytes:
    """A ZIP as Windows' "Send to > Compressed folder" makes it (deflate, fixed dates here)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(2026, 12, 2, 21, 14, 6))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buf.getvalue()


def tnef(key: int, attachments: list[tuple[str, str, bytes]], body: str) -> bytes:
    """winmail.dat per MS-OXTNEF: version, OEM codepage, message class, body, then per attachment
    attAttachRendData, attAttachTitle (8.3 name), attAttachData and attAttachment (MAPI props
    with PR_ATTACH_LONG_FILENAME and PR_ATTACH_MIME_TAG)."""

    def attr(level: int, ident: int, kind: int, data: bytes) -> bytes:
        return struct.pack("<BHHI", level, ident, kind, len(data)) + data + struct.pack("<H", sum(data) & 0xFFFF)

    def string8(tag: int, value: str) -> bytes:
        raw = value.encode("cp1252") + b"\0"
        pad = b"\0" * (-len(raw) % 4)
        return struct.pack("<HHII", 0x001E, tag, 1, len(raw)) + raw + pad

    out = struct.pack("<IH", 0x223E9F78, key)
    out += attr(1, 0x9006, 0x0008, struct.pack("<I", 0x00010000))  # attTnefVersion
    out += attr(1, 0x9007, 0x0006, struct.pack("<II", 1252, 0))  # attOemCodepage
    out += attr(1, 0x8008, 0x0007, b"IPM.Microsoft Mail.Note\0")  # attMessageClass
    out += attr(1, 0x800C, 0x0002, body.replace("\n", "\r\n").encode("cp1252") + b"\0")  # attBody
    for short, long_name, data in attachments:
        out += attr(2, 0x9002, 0x0006, struct.pack("<HIHHI", 1, 0xFFFFFFFF, 0, 0, 0))  # attAttachRendData
        out += attr(2, 0x8010, 0x0001, short.encode("cp1252") + b"\0")  # attAttachTitle
        out += attr(2, 0x800F, 0x0006, data)  # attAttachData
        props = struct.pack("<I", 2) + string8(0x3707, long_name) + string8(0x370E, "image/jpeg")
        out += attr(2, 0x9005, 0x0006, props)  # attAttachment
    return out


# --- MIME assembly ----------------------------------------------------------


@dataclass
class Part:
    """One MIME entity: header lines and an already encoded body (str) or sub-parts."""

    headers: list[tuple[str, str]]
    body: str = ""
    parts: list[Part] = field(default_factory=list)
    boundary: str = ""

    def render(self) -> str:
        head = "".join(f"{k}: {v}{CRLF}" for k, v in self.headers)
        if not self.parts:
            return head + CRLF + self.body
        inner = "".join(f"--{self.boundary}{CRLF}{p.render()}{CRLF}" for p in self.parts)
        return head + CRLF + (self.body + CRLF if self.body else "") + inner + f"--{self.boundary}--{CRLF}"


def b64(data: bytes) -> str:
    text = base64.b64encode(data).decode("ascii")
    return CRLF.join(text[i : i + 76] for i in range(0, len(text), 76)) + CRLF


def qp(text: str, charset: str = "utf-8") -> str:
    raw = text.replace("\n", "\r\n").encode(charset)
    return quopri.encodestring(raw).decode("ascii").replace("\r\n", "\n").replace("\n", CRLF)


def enc_word(text: str, charset: str = "utf-8") -> str:
    """An RFC 2047 encoded-word (B encoding) the way webmail clients write non-ASCII names."""
    if text.isascii():
        return text
    return Header(text, charset).encode(maxlinelen=998)


def text_part(text: str, charset: str = "utf-8", cte: str = "quoted-printable", subtype: str = "plain") -> Part:
    if cte == "base64":
        body = b64(text.replace("\n", "\r\n").encode(charset))
    elif cte == "7bit":
        body = text.replace("\n", CRLF) + CRLF
    else:
        body = qp(text, charset)
    return Part([("Content-Type", f'text/{subtype}; charset="{charset}"'), ("Content-Transfer-Encoding", cte)], body)


def html_of(text: str, extra: str = "") -> str:
    paras = "".join(f"<div>{html.escape(line, quote=False) or '<br>'}</div>" for line in text.split("\n"))
    return f'<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head><body>{paras}{extra}</body></html>'


def message(headers: list[tuple[str, str]], root: Part) -> str:
    return "".join(f"{k}: {v}{CRLF}" for k, v in headers) + root.render()


def boundary(seed: str, style: str) -> str:
    h = hashlib.sha256(seed.encode()).hexdigest().upper()
    if style == "apple":
        return f"Apple-Mail-{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
    if style == "applemac":
        return f"Apple-Mail=_{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
    if style == "outlook":
        return f"_00{seed[-1]}_DB9PR02MB{h[:4]}{h[4:8].lower()}prd_"
    if style == "gmail":
        return "0000000000" + h[:16].lower()
    if style == "qq":
        return f"----=_NextPart_{h[:8]}_{h[8:16]}_{h[16:24]}"
    if style == "coremail":
        return f"----=_Part_{int(h[:6], 16)}_{int(h[6:14], 16)}.1733212345678"
    if style == "foxmail":
        return f"----=_001_NextPart{int(h[:9], 16)}_=----"
    return f"=_{h[:24]}"


@dataclass
class Mail:
    """One evaluation mail: its hand-written text and what a correct router must see."""

    file: str
    label: str
    lang: str
    lang_detail: str
    buried_security: bool
    client: str
    expected_evidence: list[str]
    evidence_files: int
    note: str
    build: Callable[[], str]


def common(sender: str, subject: str, date: str, mid: str, charset: str = "utf-8") -> list[tuple[str, str]]:
    return [
        ("From", sender),
        ("To", TO),
        ("Subject", enc_word(subject, charset)),
        ("Date", date),
        ("Message-ID", mid),
        ("MIME-Version", "1.0"),
    ]


def attachment(
    ctype: str, name: str, data: bytes, *, inline: bool = False, cid: str | None = None, charset: str = "utf-8",
    extra: list[tuple[str, str]] | None = None, name_style: str = "2047",
) -> Part:
    shown = enc_word(name, charset) if name_style == "2047" else name
    disp = "inline" if inline else "attachment"
    headers = [("Content-Type", f'{ctype}; name="{shown}"')]
    headers += extra or []
    headers += [("Content-Disposition", f'{disp}; filename="{shown}"'), ("Content-Transfer-Encoding", "base64")]
    if cid:
        headers.append(("Content-Id", f"<{cid}>"))
    return Part(headers, b64(data))


# --- iPhone / Mac Mail ------------------------------------------------------


def iphone(sender: str, subject: str, date: str, seed: str, text: str, files: list[tuple[str, str, bytes]],
           xmailer: str = "iPhone Mail (22B91)") -> str:
    """iOS Mail: multipart/mixed of text/plain, each photo inline with a Content-Id, then the signature text."""
    h = hashlib.sha256(seed.encode()).hexdigest().upper()
    parts = [text_part(text)]
    for i, (ctype, name, data) in enumerate(files):
        uuid = f"{h[i * 4:i * 4 + 8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
        parts.append(Part([("Content-Type", f"{ctype}; name={name}; x-apple-part-url={uuid}"),
                           ("Content-Disposition", f"inline; filename={name}"),
                           ("Content-Transfer-Encoding", "base64"), ("Content-Id", f"<{uuid}>")], b64(data)))
        parts.append(text_part("\n" if i + 1 < len(files) else "\n\nSent from my iPhone", "us-ascii", "7bit"))
    root = Part([("Content-Type", f"multipart/mixed; boundary={boundary(seed, 'apple')}"),
                 ("Content-Transfer-Encoding", "7bit")], "", parts, boundary(seed, "apple"))
    headers = common(sender, subject, date, f"<{h[:8]}-{h[8:12]}-{h[12:16]}@icloud.com>")
    headers[-1] = ("Mime-Version", "1.0 (1.0)")
    headers.append(("X-Mailer", xmailer))
    return message(headers, root)


def macmail(sender: str, subject: str, date: str, seed: str, text: str, signature: str,
            files: list[tuple[str, str, bytes]]) -> str:
    """Mac Mail with rich text: alternative(text/plain, mixed(html, inline PDF with Content-Id, html))."""
    h = hashlib.sha256(seed.encode()).hexdigest().upper()
    inner: list[Part] = [text_part(text, subtype="html", cte="quoted-printable")]
    inner[0] = Part(inner[0].headers, qp(html_of(text)))
    for i, (ctype, name, data) in enumerate(files):
        uuid = f"{h[i * 4:i * 4 + 8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
        inner.append(attachment(ctype, name, data, inline=True, cid=uuid,
                                extra=[("X-Unix-Mode", "0644")], name_style="raw"))
    inner.append(Part([("Content-Type", 'text/html; charset="utf-8"'), ("Content-Transfer-Encoding", "quoted-printable")],
                      qp(f"<html><body><div><br></div><div>{signature}</div></body></html>")))
    mixed = Part([("Content-Type", f"multipart/mixed; boundary=\"{boundary(seed + 'm', 'applemac')}\"")], "", inner,
                 boundary(seed + "m", "applemac"))
    plain = text_part(text + "\n\n" + signature)
    root = Part([("Content-Type", f"multipart/alternative; boundary=\"{boundary(seed, 'applemac')}\"")], "",
                [plain, mixed], boundary(seed, "applemac"))
    headers = common(sender, subject, date, f"<{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}@mac.com>")
    headers[-1] = ("Mime-Version", "1.0 (Mac OS X Mail 16.0 \\(3826.300.87.4.3\\))")
    headers.append(("X-Mailer", "Apple Mail (2.3826.300.87.4.3)"))
    return message(headers, root)


# --- Outlook ----------------------------------------------------------------


def outlook(sender: str, subject: str, date: str, seed: str, text: str, signature: str,
            files: list[tuple[str, str, bytes]], logo: bytes | None, banner: bytes | None = None,
            tnef_blob: bytes | None = None) -> str:
    """Outlook/Exchange: mixed(related(alternative(plain, html), image001.png logo), attachments).

    With `tnef_blob` it is Outlook's rich-text mail: mixed(text/plain, application/ms-tnef winmail.dat).
    """
    h = hashlib.sha256(seed.encode()).hexdigest().upper()
    stamp = f"01DB45{h[:2]}.{h[2:10]}"
    headers = common(sender, subject, date, f"<DB9PR02MB{h[:4]}{h[4:12]}@DB9PR02MB{h[12:16]}.eurprd02.prod.outlook.com>")
    headers += [("Thread-Topic", subject), ("Thread-Index", base64.b64encode(bytes.fromhex(h[:44])).decode()),
                ("Accept-Language", "en-GB, en-US"), ("Content-Language", "en-GB"), ("X-MS-Has-Attach", "yes")]
    if tnef_blob is not None:
        headers.append(("X-MS-TNEF-Correlator", f"<DB9PR02MB{h[:12]}@DB9PR02MB{h[12:16]}.eurprd02.prod.outlook.com>"))
        parts = [text_part(text + "\n\n" + signature, "us-ascii"),
                 attachment("application/ms-tnef", "winmail.dat", tnef_blob)]
        root = Part([("Content-Type", f'multipart/mixed; boundary="{boundary(seed + "4", "outlook")}"')], "", parts,
                    boundary(seed + "4", "outlook"))
        return message(headers, root)
    headers.append(("X-MS-TNEF-Correlator", ""))
    imgs = ""
    related_parts: list[Part] = []
    for n, img in ((1, logo), (2, banner)):
        if img is None:
            continue
        ext, ctype = ("png", "image/png") if n == 1 else ("jpg", "image/jpeg")
        cid = f"image00{n}.{ext}@{stamp}"
        imgs += f'<p class="MsoNormal"><img width="180" height="60" src="cid:{cid}" alt="logo"></p>'
        related_parts.append(Part([
            ("Content-Type", f'{ctype}; name="image00{n}.{ext}"'), ("Content-Description", f"image00{n}.{ext}"),
            ("Content-Disposition", (f'inline; filename="image00{n}.{ext}"; size={len(img)};'
                                    ' creation-date="Tue, 02 Dec 2026 09:12:44 GMT";'
                                    ' modification-date="Tue, 02 Dec 2026 09:12:44 GMT"')),
            ("Content-ID", f"<{cid}>"), ("Content-Transfer-Encoding", "base64")], b64(img)))
    full = text + "\n\n" + signature
    charset = "us-ascii" if full.isascii() else "iso-8859-1"  # Outlook's choice for Western European text
    html = html_of(full, imgs).replace("charset=utf-8", f"charset={charset}")
    alt = Part([("Content-Type", f'multipart/alternative; boundary="{boundary(seed + "0", "outlook")}"')], "",
               [text_part(full, charset),
                Part([("Content-Type", f'text/html; charset="{charset}"'), ("Content-Transfer-Encoding", "quoted-printable")],
                     qp(html, charset))], boundary(seed + "0", "outlook"))
    top: Part = alt
    if related_parts:
        top = Part([("Content-Type", (f'multipart/related; boundary="{boundary(seed + "3", "outlook")}";'
                                     ' type="multipart/alternative"'))], "", [alt, *related_parts],
                   boundary(seed + "3", "outlook"))
    if not files:
        return message(headers, top)
    atts = [Part([("Content-Type", f'{ctype}; name="{name}"'), ("Content-Description", name),
                  ("Content-Disposition", (f'attachment; filename="{name}"; size={len(data)};'
                                          ' creation-date="Tue, 02 Dec 2026 09:14:02 GMT";'
                                          ' modification-date="Tue, 02 Dec 2026 09:14:02 GMT"')),
                  ("Content-Transfer-Encoding", "base64")], b64(data)) for ctype, name, data in files]
    root = Part([("Content-Type", f'multipart/mixed; boundary="{boundary(seed + "4", "outlook")}"')], "", [top, *atts],
                boundary(seed + "4", "outlook"))
    return message(headers, root)


# --- Gmail ------------------------------------------------------------------


def gmail(sender: str, subject: str, date: str, seed: str, text: str, pasted: list[tuple[str, bytes]],
          files: list[tuple[str, str, bytes]]) -> str:
    """Gmail web: mixed(related(alternative(plain with [image: x], html with cid:ii_...), inline PNGs), attachments).

    Gmail gives normal attachments a Content-ID and X-Attachment-Id too (f_...).
    """
    h = hashlib.sha256(seed.encode()).hexdigest().lower()
    plain = text
    html_extra = ""
    inline_parts: list[Part] = []
    for i, (name, data) in enumerate(pasted):
        cid = f"ii_m4{h[i * 6:i * 6 + 9]}"
        plain = plain.replace(f"[[{name}]]", f"[image: {name}]")
        html_extra += f'<div><img src="cid:{cid}" alt="{name}" width="390" height="845"><br></div>'
        inline_parts.append(attachment("image/png", name, data, inline=True, cid=cid, extra=[("X-Attachment-Id", cid)]))
    html = html_of(text.replace("[[image.png]]", "").replace("[[image (1).png]]", ""), html_extra)
    alt = Part([("Content-Type", f'multipart/alternative; boundary="{boundary(seed + "c", "gmail")}"')], "",
               [text_part(plain, cte="quoted-printable"), Part(text_part("", subtype="html").headers, qp(html))],
               boundary(seed + "c", "gmail"))
    body: Part = alt
    if inline_parts:
        body = Part([("Content-Type", f'multipart/related; boundary="{boundary(seed + "b", "gmail")}"')], "",
                    [alt, *inline_parts], boundary(seed + "b", "gmail"))
    atts = []
    for i, (ctype, name, data) in enumerate(files):
        fid = f"f_m4{h[20 + i * 6:29 + i * 6]}"
        atts.append(attachment(ctype, name, data, cid=fid, extra=[("X-Attachment-Id", fid)]))
    root = body
    if atts:
        root = Part([("Content-Type", f'multipart/mixed; boundary="{boundary(seed + "a", "gmail")}"')], "",
                    [body, *atts], boundary(seed + "a", "gmail"))
    headers = [("MIME-Version", "1.0"), ("From", sender), ("Date", date),
               ("Message-ID", f"<CA+{h[:20]}{h[20:40].upper()}@mail.gmail.com>"),
               ("Subject", enc_word(subject)), ("To", TO)]
    return message(headers, root)


# --- Chinese webmail --------------------------------------------------------


def cn_webmail(style: str, sender: str, subject: str, date: str, seed: str, text: str, charset: str,
               files: list[tuple[str, bytes]], forwarded: str | None = None, fwd_name: str = "") -> str:
    """QQ Mail, 163 (Coremail) and Foxmail: mixed(alternative(plain, html) in base64, attachments).

    QQ Mail declares every attachment application/octet-stream; 163 and Foxmail name the real type.
    """
    h = hashlib.sha256(seed.encode()).hexdigest().upper()
    bstyle = {"qq": "qq", "163": "coremail", "foxmail": "foxmail"}[style]
    alt = Part([("Content-Type", f'multipart/alternative; boundary="{boundary(seed + "alt", bstyle)}"')], "",
               [text_part(text, charset, "base64"),
                Part(text_part("", charset, "base64", "html").headers,
                     b64(html_of(text).replace("utf-8", charset).encode(charset)))],
               boundary(seed + "alt", bstyle))
    parts = [alt]
    for name, data in files:
        ext = name.rsplit(".", 1)[-1].lower()
        ctype = "application/octet-stream" if style == "qq" else {
            "jpg": "image/jpeg", "png": "image/png", "pdf": "application/pdf", "zip": "application/x-zip-compressed"}[ext]
        shown = enc_word(name, charset)
        extra = [("Content-Type", f'{ctype}; charset="{charset}"; name="{shown}"')] if style == "qq" else \
            [("Content-Type", f'{ctype}; name="{shown}"')]
        parts.append(Part(extra + [("Content-Transfer-Encoding", "base64"),
                                   ("Content-Disposition", f'attachment; filename="{shown}"')], b64(data)))
    if forwarded is not None:
        parts.append(Part([("Content-Type", f'message/rfc822; name="{enc_word(fwd_name, charset)}"'),
                           ("Content-Disposition", f'attachment; filename="{enc_word(fwd_name, charset)}"')], forwarded))
    root = Part([("Content-Type", f'multipart/mixed; boundary="{boundary(seed, bstyle)}"')], "", parts, boundary(seed, bstyle))
    headers = common(sender, subject, date, "", charset)
    if style == "qq":
        headers[4] = ("Message-ID", f"<tencent_{h[:32]}@qq.com>")
        headers += [("X-QQ-MIME", "TCMime 1.0 by Tencent"), ("X-Mailer", "QQMail 2.x"), ("X-QQ-Mailer", "QQMail 2.x"),
                    ("X-QQ-mid", f"xmsezb{h[32:52].lower()}")]
    elif style == "163":
        headers[4] = ("Message-ID", f"<{h[:8].lower()}.{int(h[8:14], 16)}.{int(h[14:26], 16)}.{h[26:30].lower()}@163.com>")
        headers += [("X-Mailer", "Coremail Webmail Server Version XT5.0.14 build 20230109(dcb5de15)"),
                    ("X-Coremail-Locale", "zh_CN"), ("X-CM-TRANSID", f"_____wD{h[:22].lower()}--.{h[22:28]}")]
    else:
        headers[4] = ("Message-ID", f"<{2026120311}{int(h[:12], 16) % 10**15}@foxmail.com>")
        headers += [("X-Priority", "3"), ("X-Has-Attach", "yes"), ("X-Mailer", "Foxmail 7.2.25.254[cn]")]
    return message(headers, root)


def forwarded_rfc822(sender: str, subject: str, date: str, mid: str, text: str,
                     files: list[tuple[str, str, bytes]], charset: str = "utf-8") -> str:
    """The inner message of a forward-as-attachment: a bank's mail with its PDF."""
    parts = [text_part(text, charset)]
    for ctype, name, data in files:
        parts.append(attachment(ctype, name, data, charset=charset))
    root = Part([("Content-Type", f'multipart/mixed; boundary="{boundary(mid, "bank")}"')], "", parts, boundary(mid, "bank"))
    return message(common(sender, subject, date, mid, charset), root)


def outlook_forward(sender: str, subject: str, date: str, seed: str, text: str, signature: str,
                    inner: str, inner_name: str) -> str:
    """Outlook "Forward as attachment": mixed(alternative(plain, html), message/rfc822)."""
    h = hashlib.sha256(seed.encode()).hexdigest().upper()
    alt = Part([("Content-Type", f'multipart/alternative; boundary="{boundary(seed + "0", "outlook")}"')], "",
               [text_part(text + "\n\n" + signature, "us-ascii"),
                Part([("Content-Type", 'text/html; charset="us-ascii"'), ("Content-Transfer-Encoding", "quoted-printable")],
                     qp(html_of(text + "\n\n" + signature), "us-ascii"))], boundary(seed + "0", "outlook"))
    fwd = Part([("Content-Type", "message/rfc822"),
                ("Content-Disposition", (f'attachment; creation-date="Wed, 03 Dec 2026 08:01:10 GMT";'
                                        f' modification-date="Wed, 03 Dec 2026 08:01:10 GMT"; filename="{inner_name}"'))], inner)
    root = Part([("Content-Type", f'multipart/mixed; boundary="{boundary(seed + "4", "outlook")}"')], "", [alt, fwd],
                boundary(seed + "4", "outlook"))
    headers = common(sender, subject, date, f"<AM0PR07MB{h[:12]}@AM0PR07MB{h[12:16]}.eurprd07.prod.outlook.com>")
    headers += [("Thread-Topic", subject), ("X-MS-Has-Attach", "yes"), ("X-MS-TNEF-Correlator", "")]
    return message(headers, root)


# --- the mails (texts written by hand) --------------------------------------


def e01() -> str:
    text = (
        "Hi,\n\nAs requested in the app, here are the photos of my passport for the identity verification. "
        "The first picture is the photo page and the second is the selfie holding the passport next to my face.\n\n"
        "I took them by the window so hopefully there is no glare this time. Let me know if anything is unclear.\n\n"
        "Thanks,\nGrace Mwangi"
    )
    return iphone("Grace Mwangi <grace.mwangi88@icloud.com>", "Identity Verification - UID 6402918375",
                  "Tue, 2 Dec 2026 08:41:17 +0300", "e01", text,
                  [("image/jpeg", "IMG_4512.jpeg", jpeg("e01a", 880_000)),
                   ("image/jpeg", "IMG_4513.jpeg", jpeg("e01b", 690_000))])


def e02() -> str:
    text = (
        "Good evening po,\n\nMy account was frozen last Friday and the notice says I need to verify my identity again "
        "before you can review it. Attached are the photos of my driver's license front and back. "
        "I don't have a passport yet, I hope the license is ok.\n\n"
        "I only use the account for buying USDT with my salary from the BPO company, nothing else. "
        "Please review it as soon as possible, my tuition payment is due on the 15th.\n\n"
        "Thank you po,\nJoanna Reyes\nCebu City"
    )
    return iphone("Joanna Reyes <joannareyes.cebu@icloud.com>", "Account Freeze Appeal - UID 3817204659",
                  "Thu, 4 Dec 2026 19:58:03 +0800", "e02", text,
                  [("image/heic", "IMG_7781.HEIC", heic("e02a", 455_000)),
                   ("image/heic", "IMG_7782.HEIC", heic("e02b", 398_000))])


def e03() -> str:
    text = (
        "Hello,\n\nMy withdrawal of 600 USDT to my Trust Wallet failed twice this morning with \"risk control "
        "verification required\". I attached a screenshot of the withdrawal record with the error and a photo "
        "of the login history page from my laptop.\n\n"
        "While taking that photo I noticed two logins from an Android device in Jakarta on Sunday night, "
        "I have an iPhone and I was at home in Perth. No idea if that's why the withdrawal is blocked. "
        "Can you tell me what verification you need?\n\nCheers\nLiam"
    )
    return iphone("Liam O'Brien <liam.obrien@me.com>", "Withdrawal Failed - UID 5590412763",
                  "Mon, 1 Dec 2026 10:12:55 +0800", "e03", text,
                  [("image/png", "IMG_2290.PNG", screenshot_png("e03a", [
                      "Withdraw USDT", "Network: TRC20", "Amount: 600.00 USDT", "Status: Failed",
                      "Risk control verification required", "Dec 1, 2026 09:58:12"], 265_000)),
                   ("image/heic", "IMG_2291.HEIC", heic("e03b", 505_000))])


def e04() -> str:
    text = (
        "Dear Sir or Madam,\n\nI plan to withdraw 3.1 BTC to my hardware wallet next week (the amount is above "
        "your daily limit, so I understand it needs a manual review). To document the source of funds I send you "
        "my payslips for the last three months and my employment contract with Siemens Healthineers. "
        "The bitcoin was bought between 2019 and 2023 from my salary, in monthly savings plans.\n\n"
        "If you need the purchase history from my previous broker as well, I can request it.\n\nKind regards"
    )
    sig = "Dr. Matthias Becker\nErlangen, Germany"
    return macmail("Matthias Becker <m.becker@mac.com>", "Large Withdrawal Request - UID 7043928116",
                   "Wed, 3 Dec 2026 21:07:44 +0100", "e04", text, sig,
                   [("application/pdf", "Payslips_Aug-Oct_2026.pdf",
                     pdf("e04a", "Entgeltabrechnung 08-10/2026", ["Siemens Healthineers AG", "Dr. Matthias Becker",
                                                                  "Netto: 5.412,18 EUR"], 140_000)),
                    ("application/pdf", "Employment_contract_Becker.pdf",
                     pdf("e04b", "Arbeitsvertrag", ["zwischen Siemens Healthineers AG und Dr. Matthias Becker",
                                                    "Beginn: 01.04.2019"], 95_000))])


def e05() -> str:
    text = (
        "ご担当者様\n\nいつもお世話になっております。\n\n"
        "先日「資金の出所を確認するため」として出金が制限された件で、ご依頼の書類をお送りします。"
        "購入資金は会社の給与から毎月積み立てたものですので、直近3か月分の給与明細をPDFで添付いたしました。\n\n"
        "ほかに必要な書類がありましたらお知らせください。よろしくお願いいたします。"
    )
    sig = "佐藤 健一\n東京都世田谷区"
    return macmail("佐藤 健一 <k.sato.tokyo@icloud.com>", "出金制限の件（資料送付）- UID 2951083746",
                   "Thu, 4 Dec 2026 09:30:12 +0900", "e05", text, sig,
                   [("application/pdf", "給与明細_2026年9-11月.pdf",
                     pdf("e05a", "Kyuyo meisai 2026/09-11", ["Sato Kenichi", "Sogaku shikyu 452,000 JPY"], 85_000))])


def e06() -> str:
    text = (
        "Dear Team,\n\nGreetings of the day.\n\nWith reference to your mail dated 01-Dec-2026 regarding the "
        "re-verification of my account, please find enclosed the scanned copy of my passport (both pages in one PDF). "
        "The address on the passport is my old Pune address, I have since shifted to Bengaluru, kindly let me know "
        "if an address proof is also required.\n\nKindly do the needful at the earliest.\n\nThanks & Regards,"
    )
    sig = "Vikram Iyer\nSenior Consultant | Adebayo & Co Technology Services\n+91 80 4123 7788"
    return outlook("Vikram Iyer <vikram.iyer@adebayo-co.example>", "RE: Identity Verification - UID 8830172645",
                   "Tue, 2 Dec 2026 14:32:09 +0530", "e06", text, sig,
                   [("application/pdf", "Passport_scan_Vikram_Iyer.pdf",
                     pdf("e06a", "Passport", ["Republic of India", "IYER VIKRAM"], 190_000))],
                   logo_png("e06logo"))


def e07() -> str:
    text = (
        "Hello,\n\nWe are integrating your REST API for our treasury reporting. Two questions:\n"
        "1. Is there an endpoint that returns deposit history older than 90 days, or do we have to page by date range?\n"
        "2. Are the timestamps in the fills endpoint in milliseconds UTC?\n\n"
        "We only need read permission on the key. Thank you."
    )
    sig = "Oluwaseun Adebayo\nHead of Finance Operations | Adebayo & Co\nLekki Phase 1, Lagos\n" \
          "This e-mail and any attachments are confidential and intended solely for the addressee."
    return outlook("Oluwaseun Adebayo <seun@adebayo-co.example>", "API question - deposit history",
                   "Wed, 3 Dec 2026 11:05:40 +0100", "e07", text, sig, [], logo_png("e07logo"), banner_jpeg("e07banner"))


def e08() -> str:
    text = (
        "Hello,\n\nYour verification page gives me an error when I upload, so I send the photos of my ID card "
        "by e-mail. Front side and back side are attached. Please complete my verification manually, "
        "I need the higher limit for my business payments.\n\nBest regards,\nSerkan Aydin\nIstanbul"
    )
    blob = tnef(0x5E1A, [("IDCARD~1.JPG", "ID_card_front.jpg", jpeg("e08a", 300_000, make="samsung", model="SM-G998B")),
                         ("IDCARD~2.JPG", "ID_card_back.jpg", jpeg("e08b", 275_000, make="samsung", model="SM-G998B"))],
                text)
    return outlook("Serkan Aydin <serkan.aydin@aydin-tekstil.example>", "Identity Verification - UID 4102837569",
                   "Mon, 1 Dec 2026 16:44:21 +0300", "e08", text, "", [], None, tnef_blob=blob)


def e09() -> str:
    text = (
        "Hi,\n\nI bought 2,000 USDT on P2P on Tuesday, paid the seller by bank transfer and he released, "
        "but the USDT is not in my funding wallet. The screenshot below is my deposit record from the app:\n\n"
        "[[image.png]]\n\n"
        "I also attached my bank statement showing the payment.\n\n"
        "One more thing I can see on that same screen - there's a withdrawal address in my address book called "
        "\"main\" that I never added, it appeared on Monday. Should I delete it?\n\nThanks,\nDaniel Okoro"
    )
    return gmail("Daniel Okoro <daniel.okoro.ng@gmail.com>", "Deposit Not Credited - UID 9018273645",
                 "Thu, 4 Dec 2026 07:15:33 +0100", "e09", text,
                 [("image.png", screenshot_png("e09a", [
                     "Funding wallet", "P2P order 2041887 - Completed", "Bought 2,000.00 USDT",
                     "Address book: main  TQ...7Nk  added Dec 1", "Deposit history: none"], 330_000))],
                 [("application/pdf", "Bank_statement_Dec2026.pdf",
                   pdf("e09b", "Account Statement", ["Access Bank plc", "Transfer to P2P seller 3,120,000.00 NGN"],
                       120_000))])


def e10() -> str:
    text = (
        "hello support,\n\nI cannot withdraw my PHP to my GCash, it always show an error, here is the screenshot "
        "of the error message:\n\n[[image.png]]\n\n"
        "i already tried 3 times since yesterday. my gcash is verified and same name. pls check thank you\n\nMark Anthony"
    )
    return gmail("Mark Anthony Santos <markanthony.santos92@gmail.com>", "withdrawal to gcash error",
                 "Tue, 2 Dec 2026 22:47:10 +0800", "e10", text,
                 [("image.png", screenshot_png("e10a", ["Withdraw PHP", "Method: GCash", "Amount: 15,000.00 PHP",
                                                        "Error 100213: Channel temporarily unavailable"], 175_000))], [])


def e11() -> str:
    text = (
        "您好：\n\n我在 App 上傳身分證一直失敗，顯示「檔案格式不支援」，所以改用 Email 寄給你們。"
        "附件是我的身分證正面和反面，麻煩幫我完成身分認證。\n\n"
        "另外想請問，認證通過之後台幣入金的額度是多少？\n\n謝謝\n林怡君\n台中市"
    )
    return gmail("林怡君 <yijun.lin.tw@gmail.com>", "身分認證-UID 6620183947", "Wed, 3 Dec 2026 13:20:45 +0800", "e11",
                 text, [],
                 [("image/jpeg", "身分證正面.jpg", jpeg("e11a", 305_000, make="Apple", model="iPhone 13")),
                  ("image/jpeg", "身分證反面.jpg", jpeg("e11b", 282_000, make="Apple", model="iPhone 13"))])


def e12() -> str:
    text = (
        "你好，\n\n我的账户上周五被冻结了，APP 上说是“资金来源需要核实”。我这边的钱都是工资攒的，"
        "在 C2C 上从正规商家买的 USDT，没有做过别的。\n\n"
        "按照你们的要求，附件里是我的身份证正反面照片，还有近六个月的银行流水，证明资金来源。"
        "账户一直是我本人使用，手机和谷歌验证器都在我自己手上。\n\n麻烦尽快帮我审核解冻，谢谢！\n\n王磊"
    )
    return cn_webmail("qq", "王磊 <1843726519@qq.com>", "账户冻结申诉-UID 2740185936", "Mon, 1 Dec 2026 20:31:06 +0800",
                      "e12", text, "gb18030",
                      [("身份证正面.jpg", jpeg("e12a", 280_000, make="HUAWEI", model="ELS-AN00")),
                       ("身份证反面.jpg", jpeg("e12b", 252_000, make="HUAWEI", model="ELS-AN00")),
                       ("银行流水.pdf", pdf("e12c", "Bank statement 2026-06..2026-11",
                                         ["China Merchants Bank", "WANG LEI"], 160_000))])


def e13() -> str:
    text = (
        "客服你好\n\n我昨天晚上充了 1500 USDT（TRC20），到现在还没到账，区块浏览器上已经成功了。"
        "附件是充值记录的截图，麻烦帮我查一下。\n\n"
        "还有个事想问一下，前天我收到一条短信说账户绑定的手机号已经修改成功，但是我自己没改过，"
        "现在安全中心里显示的手机号后四位也不是我的了。这个要怎么改回来？\n\n谢谢"
    )
    return cn_webmail("qq", "阿杰 <2650918834@qq.com>", "充值未到账-UID 5083726149", "Thu, 4 Dec 2026 09:02:51 +0800",
                      "e13", text, "gb18030",
                      [("充值记录.png", screenshot_png("e13a", ["Deposit USDT", "TRC20", "1,500.00 USDT",
                                                            "Status: Confirming 0/20", "2026-12-03 22:41:09"], 205_000))])


def e14() -> str:
    text = (
        "您好，我今天下午提币 0.35 ETH 到 imToken，页面一直显示“审核中”，已经四个多小时了，之前都是几分钟就到。"
        "提币截图在附件里。请帮忙看一下是什么原因，谢谢。\n\n张敏"
    )
    return cn_webmail("foxmail", "张敏 <zhangmin_sz@foxmail.com>", "提现失败-UID 6391027485",
                      "Wed, 3 Dec 2026 19:48:27 +0800", "e14", text, "utf-8",
                      [("提币截图.jpg", jpeg("e14a", 210_000, size=(1080, 2340), make="Xiaomi", model="23049RAD8C"))])


def e15() -> str:
    text = (
        "你好！\n\n我需要提 45 万 USDT 出来付房款（首付），金额超过了日限额，按你们的说明发邮件申请大额提现。\n\n"
        "关于资金来源：一部分是我这几年的工资，一部分是 2021 年卖掉老房子的钱。附件是我近两年的工资流水和购房合同，"
        "卖房的合同如果需要我再补。\n\n请问审核大概需要几个工作日？\n\n陈晓东\n杭州"
    )
    return cn_webmail("163", "陈晓东 <chenxd_hz@163.com>", "大额提现申请-UID 8172039465", "Tue, 2 Dec 2026 10:26:13 +0800",
                      "e15", text, "utf-8",
                      [("工资流水.pdf", pdf("e15a", "Salary statement 2024-2026", ["CHEN XIAODONG"], 140_000)),
                       ("购房合同.pdf", pdf("e15b", "Purchase contract", ["Hangzhou", "CHEN XIAODONG"], 230_000))])


def e16() -> str:
    inner = forwarded_rfc822(
        "Revolut <no-reply@revolut.example>", "Your statement for October 2026 is ready",
        "Sat, 1 Nov 2026 06:00:02 +0000", "<stmt-2026-10-4481029@revolut.example>",
        "Hi Sophie,\n\nYour account statement for October 2026 is attached.\n\nRevolut",
        [("application/pdf", "Statement_GBP_Oct2026.pdf",
          pdf("e16a", "Statement October 2026", ["Sophie Turner", "Incoming: car sale 18,500.00 GBP"], 105_000))])
    text = (
        "Hello,\n\nAs you asked for proof of the source of funds for my 20,000 USDT deposit, I'm forwarding the e-mail "
        "from my bank with my October statement. The large incoming payment on 14 October is from the sale of my car "
        "(the buyer's name is on the line).\n\nPlease let me know if that's enough to lift the restriction."
    )
    return outlook_forward("Sophie Turner <sophie.turner@outlook.example>", "FW: Your statement for October 2026 is ready",
                           "Wed, 3 Dec 2026 08:02:44 +0000", "e16", text, "Sophie", inner,
                           "Your statement for October 2026 is ready.eml")


def e17() -> str:
    inner = forwarded_rfc822(
        "招商银行 <95555@message.cmbchina.example>", "您的交易明细",
        "Tue, 2 Dec 2026 16:10:00 +0800", "<20261202161000.882301@cmbchina.example>",
        "尊敬的客户：\n\n您申请的交易明细已生成，请查收附件。\n\n招商银行",
        [("application/pdf", "交易明细.pdf",
          pdf("e17a", "Transaction details", ["2026-11-28 -8,000.00 CNY"], 90_000))])
    text = (
        "你好，我 11 月 28 号在 C2C 买了 1100 USDT，银行已经付款了，但卖家说没收到钱不放币，订单被取消了。"
        "我把银行发给我的交易明细邮件转发给你们，里面有付款记录。\n\n"
        "另外顺便说一下，那天晚上我收到一封邮件说有新设备登录，地点是广州，我人在成都，当时以为是广告没管。"
        "麻烦一起看看。\n\n刘洋"
    )
    return cn_webmail("foxmail", "刘洋 <liuyang_cd@foxmail.com>", "转发: 您的交易明细", "Wed, 3 Dec 2026 21:15:39 +0800",
                      "e17", text, "utf-8", [], forwarded=inner, fwd_name="您的交易明细.eml")


def e18() -> str:
    text = (
        "Hi,\n\nFor the enhanced verification you asked me to send the passport and a selfie again. "
        "My work laptop blocks large uploads so I put both photos in a zip file, it's attached. "
        "Please let me know when it's done.\n\nRegards,"
    )
    z = zip_of([("passport_front.jpg", jpeg("e18a", 350_000, make="Google", model="Pixel 8")),
                ("selfie_with_passport.jpg", jpeg("e18b", 300_000, make="Google", model="Pixel 8"))])
    return outlook("Tomasz Nowak <t.nowak@nowak-logistics.example>", "Identity Verification - UID 7391028465",
                   "Mon, 1 Dec 2026 12:09:58 +0100", "e18", text, "Tomasz Nowak\nNowak Logistics Sp. z o.o.",
                   [("application/x-zip-compressed", "documents.zip", z)], None)


def e19() -> str:
    text = (
        "你好，身份认证一直上传失败，我把身份证正反面的照片打了个压缩包发过来，麻烦人工帮我审核一下。"
        "压缩包里是两张照片，第一张正面第二张反面。\n\n谢谢"
    )
    z = zip_of([("IMG_20261203_101522.jpg", jpeg("e19a", 330_000, make="OPPO", model="PHY110")),
                ("IMG_20261203_101547.jpg", jpeg("e19b", 290_000, make="OPPO", model="PHY110"))])
    return cn_webmail("qq", "小周 <391028475@qq.com>", "身份认证 UID 3920184756", "Wed, 3 Dec 2026 10:22:17 +0800",
                      "e19", text, "gb18030", [("证件照片.zip", z)])


def e20() -> str:
    text = (
        "안녕하세요. 방금 제 계정에서 USDT 3,200개가 제가 모르는 주소로 출금됐습니다. 저는 출금한 적이 없습니다.\n\n"
        "출금 내역 화면을 캡처해서 첨부합니다. 두 번째 사진은 로그인 기록입니다. 제가 쓰지 않는 윈도우 기기가 있어요.\n\n"
        "빨리 계정을 동결해 주세요.\n\n정우성"
    )
    return iphone("정우성 <wooseong.j@icloud.com>", "계정 도용 신고 - UID 6028193745", "Thu, 4 Dec 2026 02:13:40 +0900",
                  "e20", text,
                  [("image/png", "IMG_0931.PNG", screenshot_png("e20a", [
                      "Withdrawal history", "USDT  -3,200.00  Completed", "To: TYx...9pQ", "2026-12-04 01:58"], 190_000)),
                   ("image/png", "IMG_0932.PNG", screenshot_png("e20b", [
                       "Login history", "Windows / Chrome  Seoul?  01:41", "iOS app  Busan  yesterday"], 160_000))])


def e21() -> str:
    text = (
        "Buenas tardes,\n\nQuisiera saber cuál es el límite diario de retiro para una cuenta con verificación "
        "nivel 2, necesito mover unos 30.000 USDT a la cuenta de la empresa a fin de mes.\n\n"
        "Aprovecho: el martes mi celular se quedó sin señal toda la tarde y Telcel me dijo que \"ya se había hecho "
        "la portabilidad del número\" que yo nunca pedí. Ya lo recuperé, pero ese mismo día me llegó un correo de "
        "ustedes de restablecimiento de contraseña. ¿Me pueden decir si alguien entró a mi cuenta?\n\n"
        "Saludos cordiales,"
    )
    sig = (
        "Ing. Ricardo Salinas Vega\nGerente de Operaciones | Grupo Salvega S.A. de C.V.\nMonterrey, N.L.\n\n"
        "CONFIDENTIALITY NOTICE: This e-mail message, including any attachments, is for the sole use of the intended "
        "recipient(s) and may contain confidential and privileged information. Any unauthorized review, use, "
        "disclosure or distribution is prohibited. If you are not the intended recipient, please contact the sender "
        "by reply e-mail and destroy all copies of the original message. The company accepts no liability for any "
        "damage caused by any virus transmitted by this e-mail. E-mail transmission cannot be guaranteed to be "
        "secure or error-free, as information could be intercepted, corrupted, lost, destroyed, arrive late or "
        "incomplete, or contain viruses. Please consider the environment before printing this e-mail."
    )
    return outlook("Ricardo Salinas <rsalinas@salvega.example>", "Límite de retiro diario",
                   "Thu, 4 Dec 2026 15:38:02 -0600", "e21", text, sig, [], logo_png("e21logo"))


def e22() -> str:
    text = (
        "Dạ em gửi lại ảnh hộ chiếu theo yêu cầu ạ, ảnh lần trước bị mờ nên em chụp lại dưới đèn. "
        "Anh chị kiểm tra giúp em, em cần nâng hạn mức để rút tiền học phí cho con.\n\nEm cảm ơn nhiều ạ.\n"
        "Trần Minh Đức\n\n"
        "On Tue, Dec 2, 2026 at 4:05 PM Support <support@exchange.example> wrote:\n"
        "> Dear customer,\n"
        "> Thank you for your submission. Unfortunately the passport photo you uploaded is blurred and the "
        "document number cannot be read.\n"
        "> Please reply to this e-mail with a clear photo of the photo page of your passport, taken in good light, "
        "with all four corners visible.\n"
        "> Kind regards,\n> Customer Support"
    )
    return gmail("Trần Minh Đức <tranminhduc.hn@gmail.com>", "Re: Identity Verification - UID 2093817465",
                 "Wed, 3 Dec 2026 20:51:18 +0700", "e22", text, [],
                 [("image/jpeg", "passport_TranMinhDuc.jpg", jpeg("e22a", 420_000, make="samsung", model="SM-A546E"))])


MAILS: list[Mail] = [
    Mail("ios_kyc_passport_jpeg.eml", "compliance", "en", "en", False, "iPhone Mail", ["identity"], 2,
         "KYC passport + selfie as two inline JPEGs with Content-Id inside multipart/mixed", e01),
    Mail("ios_heic_freeze_appeal.eml", "compliance", "en", "en", False, "iPhone Mail", ["identity"], 2,
         "freeze appeal (no compromise) with HEIC photos of a driver's licence", e02),
    Mail("ios_withdrawal_failed_buried_login.eml", "security", "en", "en", True, "iPhone Mail",
         ["transactions", "activity_log"], 2,
         "withdrawal-failed subject; an Android login from Jakarta he did not make; PNG screenshot + HEIC photo", e03),
    Mail("macmail_pdf_inline_sof.eml", "compliance", "en", "en", False, "Mac Mail", ["source_of_funds"], 2,
         "large withdrawal with payslips and contract as PDFs shown inline (Content-Id) in Mac Mail rich text", e04),
    Mail("macmail_ja_payslips.eml", "compliance", "other", "ja", False, "Mac Mail", ["source_of_funds"], 1,
         "Japanese source-of-funds submission, one inline PDF named in Japanese (給与明細)", e05),
    Mail("outlook_logo_passport_pdf.eml", "compliance", "en", "en", False, "Outlook", ["identity"], 1,
         "KYC re-verification; passport PDF attached, image001.png signature logo is decoration", e06),
    Mail("outlook_signature_only.eml", "general", "en", "en", False, "Outlook", [], 0,
         "API question; only Outlook signature images (image001.png logo, image002.jpg banner): no evidence", e07),
    Mail("outlook_tnef_id_card.eml", "compliance", "en", "en", False, "Outlook (TNEF)", ["identity"], 2,
         "ID card front/back inside winmail.dat (application/ms-tnef)", e08),
    Mail("gmail_pasted_screenshot_buried_whitelist.eml", "security", "en", "en", True, "Gmail", ["transactions"], 2,
         "P2P deposit question; pasted screenshot (cid) + bank statement PDF; address-book entry he never added", e09),
    Mail("gmail_pasted_error_screenshot.eml", "general", "en", "en", False, "Gmail", ["activity_log"], 1,
         "withdrawal error with the error screenshot pasted into the body as a cid image", e10),
    Mail("gmail_zh_hant_id_card.eml", "compliance", "zh", "zh-Hant", False, "Gmail", ["identity"], 2,
         "Taiwan 身分證 front/back (Traditional spelling), RFC 2047 UTF-8 file names", e11),
    Mail("qq_gb18030_freeze_id_statement.eml", "compliance", "zh", "zh-Hans", False, "QQ Mail", ["identity", "source_of_funds"], 3,
         "AML freeze appeal; GB18030 base64 text; ID photos and 银行流水 as application/octet-stream", e12),
    Mail("qq_deposit_buried_phone_changed.eml", "security", "zh", "zh-Hans", True, "QQ Mail", ["transactions"], 1,
         "deposit-not-credited subject; bound phone number changed by someone else", e13),
    Mail("foxmail_withdraw_screenshot.eml", "general", "zh", "zh-Hans", False, "Foxmail", ["transactions"], 1,
         "withdrawal under review; 提币截图.jpg; UTF-8 base64", e14),
    Mail("163_large_withdrawal_sof.eml", "compliance", "zh", "zh-Hans", False, "163 Mail (Coremail)", ["source_of_funds"], 2,
         "large withdrawal with 工资流水 and 购房合同 PDFs", e15),
    Mail("outlook_forwarded_bank_statement.eml", "compliance", "en", "en", False, "Outlook (forward as attachment)",
         ["source_of_funds"], 1, "source of funds: the bank's mail forwarded as message/rfc822 with the statement PDF inside", e16),
    Mail("foxmail_forwarded_buried_new_device.eml", "security", "zh", "zh-Hans", True, "Foxmail (forward as attachment)",
         ["transactions"], 1,
         "P2P dispute with the bank's 交易明细 mail forwarded as message/rfc822; a new-device login from Guangzhou he did not make",
         e17),
    Mail("outlook_zip_passport_selfie.eml", "compliance", "en", "en", False, "Outlook", ["identity"], 2,
         "documents.zip holding passport_front.jpg and selfie_with_passport.jpg", e18),
    Mail("qq_zip_id_photos.eml", "compliance", "zh", "zh-Hans", False, "QQ Mail", ["identity"], 2,
         "证件照片.zip with two camera-named JPEGs; the body says they are the ID card's two sides", e19),
    Mail("ios_ko_theft_screenshots.eml", "security", "other", "ko", False, "iPhone Mail", ["transactions", "activity_log"], 2,
         "Korean theft report with two PNG screenshots (withdrawal history, login history) inline with Content-Id", e20),
    Mail("outlook_es_disclaimer_buried_port_out.eml", "security", "other", "es", True, "Outlook", [], 0,
         "Spanish withdrawal-limit question under a long English disclaimer; number ported out without asking, "
         "then a password-reset mail", e21),
    Mail("gmail_vi_reply_passport.eml", "compliance", "other", "vi", False, "Gmail", ["identity"], 1,
         "Vietnamese reply above the quoted English support mail, with the passport photo attached", e22),
]


FIELDS = ("id", "subject", "text", "label", "lang", "lang_detail", "buried_security", "writer", "note")
EML_FIELDS = ("file", "label", "lang", "lang_detail", "buried_security", "client", "expected_evidence", "evidence_files")
LABELS = ("security", "compliance", "general")
MAX_FOLDER_BYTES = 15 << 20


def _problems_jsonl(path: Path) -> list[str]:
    """Format errors in one labelled .jsonl file of the set (both writers' parts)."""
    problems: list[str] = []
    ids: set[str] = set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        where = f"{path.name}:{n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{where}: not JSON ({exc.msg})")
            continue
        missing = [k for k in FIELDS if k not in row]
        if missing:
            problems.append(f"{where}: missing {', '.join(missing)}")
            continue
        if row["id"] in ids:
            problems.append(f"{where}: duplicate id {row['id']}")
        ids.add(row["id"])
        if row["label"] not in LABELS or row["lang"] not in ("zh", "en", "other"):
            problems.append(f"{where}: bad label or lang")
        if row["buried_security"] is True and row["label"] != "security":
            problems.append(f"{where}: buried_security but labelled {row['label']}")
        if not str(row["text"]).strip():
            problems.append(f"{where}: empty text")
    return problems


def _problems_eml() -> list[str]:
    """Manifest rows that name missing files or lack fields, and a folder over the size budget."""
    problems: list[str] = []
    listed = set()
    for n, line in enumerate(MANIFEST.read_text(encoding="utf-8").splitlines(), 1):
        row = json.loads(line)
        missing = [k for k in EML_FIELDS if k not in row]
        if missing:
            problems.append(f"eml.jsonl:{n}: missing {', '.join(missing)}")
        if not (HERE / row["file"]).is_file():
            problems.append(f"eml.jsonl:{n}: {row['file']} does not exist")
        listed.add(Path(row["file"]).name)
    extra = sorted(p.name for p in OUT.glob("*.eml") if p.name not in listed)
    if extra:
        problems.append(f"eml/: files not in the manifest: {', '.join(extra)}")
    total = sum(p.stat().st_size for p in OUT.glob("*.eml"))
    if total > MAX_FOLDER_BYTES:
        problems.append(f"eml/: {total:,} bytes, over the {MAX_FOLDER_BYTES:,} budget")
    return problems


def check() -> int:
    """Validate the whole set without rebuilding it (exit status 1 on any problem)."""
    problems = [p for f in sorted(HERE.glob("*.jsonl")) if f != MANIFEST for p in _problems_jsonl(f)]
    problems += _problems_eml()
    for p in problems:
        print(p)
    print("ok" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


def main() -> None:
    if "--check" in sys.argv[1:]:
        raise SystemExit(check())
    OUT.mkdir(exist_ok=True)
    rows = []
    for mail in MAILS:
        raw = mail.build().encode("utf-8")
        (OUT / mail.file).write_bytes(raw)
        rows.append({"file": f"eml/{mail.file}", "label": mail.label, "lang": mail.lang, "lang_detail": mail.lang_detail,
                     "buried_security": mail.buried_security, "client": mail.client,
                     "expected_evidence": mail.expected_evidence, "evidence_files": mail.evidence_files,
                     "writer": "eval-2", "note": mail.note})
        print(f"{mail.file:50} {len(raw):>10,}")
    MANIFEST.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


if __name__ == "__main__":
    random.seed(0)
    main()
