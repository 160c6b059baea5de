"""Attachments: what they really are, what evidence they carry, which are dangerous (SPEC 4).

Why by hand: the real type is read from magic bytes (names and declared MIME
types are chosen by the sender), archives are inspected from their directory
before anything is decompressed, and every read is bounded by `Limits`, so a
hostile attachment costs at most the configured budget.  `puremagic` is only
a fallback for image/PDF variants the explicit checks below do not know.

Rejection reasons start with a stable prefix word:

* ``dangerous:`` - executables, scripts, macro-enabled Office files, names
  that hide their type, archives that hold any of those or cannot be
  inspected.  `is_dangerous` is True and the message is quarantined.
* ``too large:`` - over ``limits.max_attachment_bytes``.  The attachment is not
  counted as evidence but the message is NOT quarantined (being big is not
  hostile); the reason names the limit.  A dangerous finding wins over size.

Evidence kinds come from file names (English, Simplified and Traditional
Chinese) and, for attachments whose names say nothing, from sentences of the
body that both name a kind and refer to an attachment ("attached my
passport", "截图是充值记录"), skipping negated clauses ("没有护照").

Statements (statement, 流水, 对账单 ...) are ``source_of_funds`` when the name
also says salary/tax/contract (工资流水, salary_statement) or when the body
talks about source of funds (资金来源, "source of funds", "proof of income");
otherwise they are ``transactions``.  A ``.log`` text file is an activity log.
"""

from __future__ import annotations

import io
import re
import tarfile
import unicodedata
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import puremagic

from router.config import EVIDENCE_KINDS, Limits
from router.records import Attachment, EvidenceReport, Rejection

DANGEROUS = "dangerous:"
TOO_LARGE = "too large:"

MAX_ARCHIVE_DEPTH = 3  # an archive inside an archive inside an archive; a 4th level is rejected
RATIO_MIN_BYTES = 1 << 20  # compression ratio is only judged above 1 MiB unpacked (tiny files compress wildly)
TINY_IMAGE_BYTES = 4096  # smaller images are logos and spacers, not photos of documents
_HEAD = 8192  # bytes read from a file or archive member to sniff it
_OOXML_MAX_PARTS = 5000  # sniff does not parse a zip directory claiming more entries than this
_CONTENT_TYPES_MAX = 1 << 20

IMAGE_LABELS = frozenset({"png", "jpeg", "gif", "webp", "bmp", "tiff", "heic"})
_EXECUTABLE = {
    "pe": "Windows executable",
    "elf": "Linux executable",
    "macho": "macOS executable",
    "script": "script (#! line)",
}
_MACRO_LABELS = frozenset({"docm", "xlsm", "pptm", "ole_macro"})
_OOXML_LABELS = frozenset({"docx", "xlsx", "pptx", "docm", "xlsm", "pptm"})

# Extensions that run code when opened (Windows and common cross-platform launchers).
DANGEROUS_EXTENSIONS = frozenset(
    "exe scr bat cmd com pif js jse vbs vbe wsf wsh ws ps1 psm1 jar msi msp lnk hta cpl dll reg vb "
    "iso img vhd vhdx apk dmg app sh command".split()
)
MACRO_EXTENSIONS = frozenset("docm dotm xlsm xltm xlam pptm potm ppsm ppam sldm".split())
# Extensions people trust; a dangerous extension after one of these is a double extension.
_DOCUMENT_EXTENSIONS = frozenset(
    "pdf jpg jpeg png gif bmp webp tif tiff heic txt csv log doc docx xls xlsx ppt pptx rtf zip rar 7z htm html".split()
)
_TEXT_EXTENSIONS = {"csv": "csv", "tsv": "csv", "txt": "txt", "text": "txt", "log": "log"}
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

# What each kind accepts, by evidence format (image, pdf, xlsx, csv, txt, log).
ACCEPTS: dict[str, frozenset[str]] = {
    "identity": frozenset({"image", "pdf"}),
    "transactions": frozenset({"csv", "xlsx", "pdf", "image"}),
    "activity_log": frozenset({"txt", "log", "csv", "pdf", "image"}),
    "source_of_funds": frozenset({"pdf", "image", "xlsx"}),
}

# --- keyword tables -------------------------------------------------------
# "strict" patterns are used on file names and body sentences; "name" patterns
# add words that only mean something as a file name ("deposit.png", "login.jpg").
# "statement" is a pseudo-kind resolved to transactions or source_of_funds.

_STRICT: dict[str, str] = {
    "identity": (
        r"passport|\bid ?cards?\b|\bid (?:front|back|photo|scan|copy|document)s?\b|\bmy id\b(?!\s*(?:is|:|=|number|no\b))"
        r"|identity (?:card|document)|national id|\bhkid\b|\bnric\b|selfie|driv(?:er'?s?|ing) ?licen[cs]e"
        r"|residence permit|身份证|身份證|护照|護照|手持|证件|證件|驾照|駕照|驾驶证|駕駛證|通行证|通行證"
        r"|居留证|居留證|回乡证|回鄉證|台胞证|台胞證|自拍|人脸|人臉"
    ),
    "transactions": (
        r"transactions? (?:records?|history|histories|details?|screenshots?|proofs?|ids?|hash(?:es)?)|\btx ?(?:id|hash)s?\b"
        r"|\btxids?\b|trade history|order history|\b(?:deposit|withdrawal?|transfer|payment) (?:records?|history|proofs?|receipts?)"
        r"|交易(?:记录|紀錄|記錄|明细|明細|截图|截圖|凭证|憑證|哈希|id)"
        r"|(?:充值|充币|充幣|提现|提現|提币|提幣|转账|轉賬|轉帳|汇款|匯款|入金|出金|付款|支付|订单|訂單)"
        r"(?:记录|紀錄|記錄|明细|明細|凭证|憑證|截图|截圖|详情|詳情|回执|回執)|哈希"
    ),
    "activity_log": (
        r"\b(?:login|log-?in|sign-?in|access|activity|operation|error|audit|device|ip) ?(?:logs?|history|records?)\b"
        r"|error (?:messages?|screenshots?)|\blog files?\b|\blogs\b"
        r"|(?:登录|登錄|登入|操作)(?:记录|紀錄|記錄|日志|日誌|历史|歷史)|日志|日誌|报错|報錯|错误提示|錯誤提示"
    ),
    "source_of_funds": (
        r"salary|pay ?slips?|payroll|\bwages?\b|(?<!smart )(?<!futures )(?<!perpetual )\bcontracts?\b(?! address)(?! trading)"
        r"|\bagreements?\b|tax (?:returns?|certificates?|statements?|receipts?)|income (?:proof|certificate|statement)s?"
        r"|proof of (?:income|funds)|employment (?:letter|certificate)s?"
        r"|工资|工資|薪资|薪資|薪水|收入证明|收入證明|合同|契約|完税|完稅|纳税|納稅|税单|稅單"
        r"|资金来源证明|資金來源證明|资产证明|資產證明|房产证|房產證"
    ),
    "statement": r"statements?|流水|对账单|對賬單|對帳單|对帐单|账单|賬單|帳單",
}
_NAME_ONLY: dict[str, str] = {
    "identity": r"identity|holding|\bkyc\b|(?<!tx )(?<!user )(?<!order )(?<!transaction )\bid\b",
    "transactions": (
        r"transactions?|\b(?:deposits?|withdraw\w*|transfers?|payments?|receipts?|trades?|orders?|tx|explorer)\b"
        r"|etherscan|tronscan|bscscan|充值|充币|充幣|提现|提現|提币|提幣|转账|轉賬|轉帳|汇款|匯款|交易|订单|訂單"
        r"|付款|回单|回單|收据|收據|凭证|憑證"
    ),
    "activity_log": r"\blog\b|login|logon|signin|sign in|\berrors?\b|\bactivity\b|登录|登錄|登入|操作|错误|錯誤|异常|異常",
    "source_of_funds": r"source of (?:funds?|wealth)|\bsof\b|\btax\b|income|资金|資金|收入",
    "statement": r"(?!x)x",
}
_SOF_CONTEXT = re.compile(
    r"sources? of (?:the )?(?:funds?|wealth)|proof of (?:funds|income)|origin of (?:the )?funds|fund sources?"
    r"|资金来源|資金來源|收入来源|收入來源|资金证明|資金證明|财富来源|財富來源|来源证明|來源證明",
    re.I,
)
_CUE = re.compile(
    r"\battach|\benclos|\bplease (?:find|see)\b|\bsee (?:the )?(?:attached|below|enclosed)|\bhere (?:is|are)\b"
    r"|\bupload|\binclud|\bfind\b|\bsending\b|\bscreenshots?\b|\bphotos?\b|\bpictures?\b|\bimages?\b|\bscans?\b"
    r"|\bscanned\b|\bcop(?:y|ies) of\b"
    r"|附件|附上|附檔|附档|附图|附圖|见附|見附|随附|隨附|截图|截圖|照片|图片|圖片|相片|扫描|掃描|上传|上傳"
    r"|如下|请查收|請查收|发送|發送|提供|请见|請見|请看|請看",
    re.I,
)
_NEGATION = re.compile(
    r"\b(?:not|don'?t|doesn'?t|didn'?t|haven'?t|hasn'?t|can'?t|cannot|couldn'?t|won'?t|unable|without|never"
    r"|lost|missing|later|will send|forgot)\b|\bno\b(?!\.|\s*[:#]?\s*\d)"
    r"|没有|沒有|无法|無法|不能|没办法|沒辦法|丢失|丟失|遗失|遺失|丢了|丟了|稍后|稍後|之后再|之後再|以后再|以後再"
    r"|晚点|晚點|还没|還沒|尚未|未能|忘记|忘記|不在身边|不在身邊",
    re.I,
)
_SENTENCES = re.compile(r"(?<=[.!?])\s+|[。！？；;\n]+")
_CLAUSES = re.compile(r"[,，、:：]|\bbut\b|\bhowever\b|但是|但|不过|不過", re.I)
_DECORATION_NAME = re.compile(r"^(?:image|img)\d{3}\.|^outlook-|logo|signature|banner|签名|簽名", re.I)

_KIND_RE = {k: re.compile(v, re.I) for k, v in _STRICT.items()}
_NAME_RE = {k: re.compile(f"{v}|{_NAME_ONLY[k]}", re.I) for k, v in _STRICT.items()}


# --- sniffing -------------------------------------------------------------


def sniff(payload: bytes) -> str:
    """The real type of `payload` from its magic bytes (never from a name)."""
    if not payload:
        return "unknown"
    head = payload[:_HEAD]
    if head.startswith(b"MZ") and _is_pe(payload, head):
        return "pe"
    if head.startswith(b"\x7fELF"):
        return "elf"
    if head[:4] in (b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbf"):
        return "macho"
    if head[:4] == b"\xca\xfe\xba\xbe" and 0 < int.from_bytes(head[4:8], "big") < 45:
        return "macho"  # fat binary; a Java class has its version (>= 45) here instead
    if head.removeprefix(b"\xef\xbb\xbf").startswith(b"#!"):
        return "script"
    image = _sniff_image(head)
    if image:
        return image
    if b"%PDF-" in head[:1024]:  # readers accept the header anywhere in the first KiB
        return "pdf"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        return _sniff_zip(payload)
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "ole_macro" if _ole_has_vba(payload) else "ole"
    if head.startswith(b"Rar!\x1a\x07"):
        return "rar"
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "7z"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head[257:262] == b"ustar":
        return "tar"
    if _looks_text(head, truncated=len(payload) > len(head)):
        return "text"
    return _sniff_puremagic(head)


def _is_pe(payload: bytes, head: bytes) -> bool:
    """MZ with a PE header, or an MZ binary (DOS program); "MZ" prose is text."""
    if len(payload) >= 0x40:
        offset = int.from_bytes(payload[0x3C:0x40], "little")
        if payload[offset : offset + 4] == b"PE\x00\x00":
            return True
    return not _looks_text(head, truncated=len(payload) > len(head))


def _sniff_image(head: bytes) -> str | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head[:2] == b"BM" and len(head) >= 26 and int.from_bytes(head[14:18], "little") in (12, 40, 52, 56, 64, 108, 124):
        return "bmp"
    if head[4:8] == b"ftyp":
        size = min(int.from_bytes(head[:4], "big"), len(head))
        brands = {head[8:12]} | {head[i : i + 4] for i in range(16, size - 3, 4)}
        if brands & {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}:
            return "heic"
    return None


_PUREMAGIC_LABELS = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/tiff": "tiff",
    "image/heic": "heic",
    "image/heif": "heic",
    "application/pdf": "pdf",
}


def _sniff_puremagic(head: bytes) -> str:
    """Fallback for image/PDF variants; anything else stays "unknown"."""
    try:
        matches = puremagic.magic_string(head)
    except (puremagic.PureError, ValueError):
        return "unknown"
    for match in matches:
        label = _PUREMAGIC_LABELS.get(match.mime_type)
        if label and match.confidence >= 0.3:
            return label
    return "unknown"


def _looks_text(head: bytes, *, truncated: bool) -> bool:
    """UTF-8 / GB18030 / Big5 / UTF-16-with-BOM text without binary control bytes."""
    if head.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        return True
    if not head or b"\x00" in head:
        return False
    controls = head.translate(None, bytes(range(0x20, 0x100)) + b"\t\n\r\f\v\x1b")
    if len(controls) > len(head) // 200:
        return False
    for encoding in ("utf-8", "gb18030", "big5"):
        try:
            head.decode(encoding)
            return True
        except UnicodeDecodeError as exc:
            if truncated and exc.start >= len(head) - 4:
                return True  # a multi-byte character cut by the head limit
    return False


def _eocd_entries(data: bytes) -> int | None:
    """Entry count claimed by the zip's end-of-central-directory record, read without parsing."""
    tail = data[-(22 + 65535) :]
    i = tail.rfind(b"PK\x05\x06")
    if i < 0 or len(tail) - i < 22:
        return None
    total = int.from_bytes(tail[i + 10 : i + 12], "little")
    if total == 0xFFFF:
        j = tail.rfind(b"PK\x06\x06", 0, i)
        return int.from_bytes(tail[j + 32 : j + 40], "little") if j >= 0 and i - j >= 40 else None
    return total


# Everything zipfile raises on hostile input (RuntimeError: encrypted; NotImplementedError: odd compression).
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    OSError,
    EOFError,
    ValueError,
    NotImplementedError,
    RuntimeError,
    zlib.error,
    KeyError,
    IndexError,
    UnicodeDecodeError,
)


def _sniff_zip(payload: bytes) -> str:
    """zip, or the OOXML document it is (macro-enabled when it holds a VBA project or XLM sheets)."""
    entries = _eocd_entries(payload)
    if entries is not None and entries > _OOXML_MAX_PARTS:
        return "zip"
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as zf:
            infos = {i.filename.lower(): i for i in zf.infolist()}
            ct = infos.get("[content_types].xml")
            if ct is None:
                return "zip"
            types = b""
            if ct.file_size <= _CONTENT_TYPES_MAX and not ct.flag_bits & 1:
                types = zf.read(ct).lower()
    except _ZIP_ERRORS:
        return "zip"
    names = set(infos)
    if "word/document.xml" in names or b"wordprocessingml.document.main" in types or b"ms-word.document" in types:
        family = "doc"
    elif names & {"xl/workbook.xml", "xl/workbook.bin"} or b"spreadsheetml.sheet" in types or b"ms-excel.sheet" in types:
        family = "xls"
    elif "ppt/presentation.xml" in names or b"presentationml" in types or b"ms-powerpoint" in types:
        family = "ppt"
    else:
        return "zip"
    types = types.replace(b"sheet.binary.macroenabled.main", b"")  # xlsb always says this, macros or not
    macro = (
        any(n.endswith("vbaproject.bin") or n.startswith("xl/macrosheets/") for n in names)
        or b"vbaproject" in types
        or b"macroenabled" in types
    )
    return family + ("m" if macro else "x")


_VBA_STORAGE_NAMES = tuple(n.encode("utf-16-le") for n in ("VBA", "_VBA_PROJECT_CUR", "_VBA_PROJECT", "Macros"))


def _ole_has_vba(data: bytes) -> bool:
    """True when an OLE directory entry names a VBA/macro storage.

    Directory entries are 128-byte records aligned inside 512- or 4096-byte
    sectors, so a name found at such an offset with the matching length and a
    storage/stream type is an entry, not document text that mentions "VBA".
    """
    if len(data) < 512 + 128:
        return False
    for name in _VBA_STORAGE_NAMES:
        pos = data.find(name, 512)
        while pos >= 0:
            entry = data[pos : pos + 128]
            if (
                pos % 128 == 0
                and len(entry) == 128
                and int.from_bytes(entry[64:66], "little") == len(name) + 2
                and entry[66] in (1, 2)
            ):
                return True
            pos = data.find(name, pos + 1)
    return False


def _other_archive(head: bytes) -> str | None:
    """Archive formats sniff has no label for; they cannot be inspected here."""
    if head.startswith(b"BZh") and head[3:4].isdigit():
        return "bzip2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if head.startswith(b"MSCF\x00\x00\x00\x00"):
        return "cab"
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return "zstd"
    if head.startswith(b"LZIP"):
        return "lzip"
    if head[2:5] == b"-lh" or head[7:14] == b"**ACE**" or head.startswith(b"\x60\xea"):
        return "lzh/ace/arj"
    return None


# --- danger ---------------------------------------------------------------


def _clean_name(filename: str) -> tuple[str, bool]:
    """Lower-case base name with invisible characters and Windows-ignored trailing dots/spaces removed."""
    name = unicodedata.normalize("NFKC", filename or "")
    hidden = any(ch in _BIDI_CONTROLS for ch in name)
    name = "".join(ch for ch in name if unicodedata.category(ch) != "Cf")
    name = re.split(r"[/\\]", name)[-1]
    return name.strip().rstrip(". ").lower(), hidden


def _extensions(name: str) -> list[str]:
    parts = name.split(".")
    return [p.strip() for p in parts[1:]] if len(parts) > 1 else []


def _name_danger(filename: str) -> str | None:
    name, hidden = _clean_name(filename)
    if hidden:
        return "file name hides its real extension (direction-override characters)"
    exts = _extensions(name)
    if not exts:
        return None
    last = exts[-1]
    if last in DANGEROUS_EXTENSIONS:
        if len(exts) >= 2 and exts[-2] in _DOCUMENT_EXTENSIONS:
            return f"double extension .{exts[-2]}.{last}"
        return f"executable or script file type .{last}"
    if last in MACRO_EXTENSIONS:
        return f"macro-enabled Office file type .{last}"
    return None


@dataclass
class _Budget:
    """Members and unpacked bytes spent so far on one attachment, all nesting levels together."""

    members: int = 0
    unpacked: int = 0


_Finding = tuple[str, str]  # (what is wrong, path inside the archive or "")


def _check(name: str, data: bytes, limits: Limits, depth: int, budget: _Budget) -> _Finding | None:
    """Why `data` (named `name`, at archive nesting `depth`) is dangerous, or None."""
    why = _name_danger(name)
    if why:
        return why, ""
    label = sniff(data)
    if label in _EXECUTABLE:
        exts = _extensions(_clean_name(name)[0])
        disguise = f" disguised as .{exts[-1]}" if exts and exts[-1] not in DANGEROUS_EXTENSIONS else ""
        return f"{_EXECUTABLE[label]}{disguise}", ""
    if label in _MACRO_LABELS:
        return "macro-enabled Office file (VBA macros)", ""
    other = _other_archive(data[:_HEAD])
    if label in ("rar", "7z") or other:
        return f"archive cannot be inspected ({(other or label).upper()})", ""
    if label in ("zip", "gzip", "tar") or label in _OOXML_LABELS:
        if depth >= MAX_ARCHIVE_DEPTH:
            return f"archives nested deeper than {MAX_ARCHIVE_DEPTH} levels", ""
        if label == "gzip":
            return _inspect_gzip(name, data, limits, depth, budget)
        if label == "tar":
            return _inspect_tar(data, limits, depth, budget)
        return _inspect_zip(data, limits, depth, budget, office=label != "zip")
    return None


def _member(name: str, data: bytes, limits: Limits, depth: int, budget: _Budget) -> _Finding | None:
    found = _check(name, data, limits, depth + 1, budget)
    if found:
        what, where = found
        return what, f"{name}/{where}" if where else name
    return None


def _needs_whole(head: bytes) -> bool:
    """Members that are containers must be read whole to be checked; others need only the head."""
    return head[:2] in (b"PK", b"\x1f\x8b") or head.startswith(b"\xd0\xcf\x11\xe0") or head[257:262] == b"ustar"


def _spend(budget: _Budget, limits: Limits, members: int, unpacked: int) -> str | None:
    budget.members += members
    budget.unpacked += unpacked
    if budget.members > limits.max_archive_members:
        return f"archive has too many members (over {limits.max_archive_members})"
    if budget.unpacked > limits.max_archive_uncompressed_bytes:
        return f"archive too large when unpacked (over {limits.max_archive_uncompressed_bytes} bytes)"
    return None


def _bomb(unpacked: int, packed: int, limits: Limits) -> str | None:
    if unpacked > RATIO_MIN_BYTES and unpacked > limits.max_archive_ratio * max(packed, 1):
        ratio = unpacked // max(packed, 1)
        return f"archive looks like a zip bomb (compression ratio {ratio}:1, limit {limits.max_archive_ratio}:1)"
    return None


def _inspect_zip(data: bytes, limits: Limits, depth: int, budget: _Budget, *, office: bool) -> _Finding | None:
    """Check a zip from its central directory first; read members only within the budget.

    Office documents (OOXML) are zips too: they get the member, size and
    content checks but not the ratio check, since XML legitimately packs tight.
    """
    claimed = _eocd_entries(data)
    if claimed is not None and budget.members + claimed > limits.max_archive_members:
        return f"archive has too many members (over {limits.max_archive_members})", ""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            if any(i.flag_bits & 0x41 or i.compress_type == 99 for i in infos):  # traditional, strong or AES encryption
                return "archive is encrypted", ""
            if office and len(infos) > _OOXML_MAX_PARTS:
                return f"archive has too many members (over {_OOXML_MAX_PARTS})", ""
            # An Office document's parts are not archive members: big decks have hundreds.
            why = _spend(budget, limits, 0 if office else len(infos), sum(i.file_size for i in infos))
            if not why and not office:
                why = _bomb(sum(i.file_size for i in infos), sum(i.compress_size for i in infos), limits)
                for info in infos:
                    why = why or _bomb(info.file_size, info.compress_size, limits)
            if why:
                return why, ""
            for info in infos:
                if info.is_dir():
                    continue
                with zf.open(info) as member:
                    body = member.read(_HEAD)
                    if _needs_whole(body):
                        body += member.read(info.file_size - len(body))
                found = _member(info.filename, body, limits, depth, budget)
                if found:
                    return found
    except _ZIP_ERRORS as exc:
        kind = "unsupported compression" if isinstance(exc, NotImplementedError) else "corrupt"
        return f"archive cannot be opened ({kind})", ""
    return None


def _inspect_gzip(name: str, data: bytes, limits: Limits, depth: int, budget: _Budget) -> _Finding | None:
    """Inflate in steps, stopping at the unpacked-size budget or once the ratio shows a bomb."""
    cap = limits.max_archive_uncompressed_bytes - budget.unpacked
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    kept: list[bytes] = []
    head = b""
    keep_all: bool | None = None
    total = 0
    pending = data
    try:
        while not inflater.eof:
            chunk = inflater.decompress(pending, 1 << 20)
            pending = inflater.unconsumed_tail
            total += len(chunk)
            if total > cap:
                return f"archive too large when unpacked (over {limits.max_archive_uncompressed_bytes} bytes)", ""
            why = _bomb(total, len(data) - len(pending), limits)
            if why:
                return why, ""
            if keep_all is None:
                head += chunk
                if len(head) >= _HEAD or inflater.eof:
                    keep_all = _needs_whole(head)
                    kept.append(head)
            elif keep_all:
                kept.append(chunk)
            if not chunk and not pending and not inflater.eof:
                return "archive cannot be opened (corrupt)", ""
    except zlib.error:
        return "archive cannot be opened (corrupt)", ""
    if inflater.unused_data.strip(b"\x00"):
        return "archive cannot be inspected (several gzip members)", ""
    why = _spend(budget, limits, 1, total)
    if why:
        return why, ""
    inner, _ = _clean_name(name)
    if inner.endswith(".tgz"):
        inner = inner[:-4] + ".tar"
    elif inner.endswith(".gz"):
        inner = inner[:-3]
    return _member(inner, b"".join(kept), limits, depth, budget)


def _inspect_tar(data: bytes, limits: Limits, depth: int, budget: _Budget) -> _Finding | None:
    """Walk tar headers (uncompressed, so no ratio); read each regular file's head."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tf:
            for info in tf:
                why = _spend(budget, limits, 1, info.size if info.isreg() else 0)
                if why:
                    return why, ""
                if info.isdir():
                    continue
                named = _name_danger(info.name)
                if named:
                    return named, info.name
                if not info.isreg():
                    continue
                member = tf.extractfile(info)
                if member is None:
                    continue
                body = member.read(_HEAD)
                if _needs_whole(body):
                    body += member.read(info.size - len(body))
                found = _member(info.name, body, limits, depth, budget)
                if found:
                    return found
    except (tarfile.TarError, OSError, EOFError, ValueError):
        return "archive cannot be opened (corrupt)", ""
    return None


def _danger(att: Attachment, limits: Limits) -> str | None:
    """The `dangerous:` reason for one attachment, or None."""
    found = _check(att.filename, att.payload, limits, 0, _Budget())
    if not found:
        return None
    what, where = found
    return f"{DANGEROUS} {what}" + (f" (inside the archive: {where})" if where else "")


def is_dangerous(report: EvidenceReport) -> bool:
    """True when any rejection must quarantine the message (`dangerous:` prefix; `too large:` does not)."""
    return any(r.reason.startswith(DANGEROUS) for r in report.rejected)


# --- evidence -------------------------------------------------------------


def _format(name: str, label: str) -> str | None:
    """Evidence format of an attachment: image/pdf/xlsx by bytes, csv/txt/log by extension among text."""
    if label in IMAGE_LABELS:
        return "image"
    if label in ("pdf", "xlsx"):
        return label
    if label == "text":
        exts = _extensions(name)
        return _TEXT_EXTENSIONS.get(exts[-1]) if exts else None
    return None


def _is_decoration(att: Attachment, fmt: str | None, name: str) -> bool:
    """Inline parts with a Content-ID, Outlook image001.png / logos, and tiny images are not evidence."""
    if att.inline and att.content_id:
        return True
    return fmt == "image" and (bool(_DECORATION_NAME.search(name)) or len(att.payload) < TINY_IMAGE_BYTES)


def _words(text: str) -> str:
    """Name or sentence as lower-case words: separators become spaces so \\b works on "login_history"."""
    return re.sub(r"[\s_\-+.()\[\]{}]+", " ", text).strip()


def _resolve(found: Iterable[str], sof_context: bool) -> list[str]:
    """Turn the "statement" pseudo-kind into transactions or source_of_funds (module docstring)."""
    kinds = set(found)
    if "statement" in kinds:
        kinds.discard("statement")
        kinds.add("source_of_funds" if sof_context or "source_of_funds" in kinds else "transactions")
    return [k for k in EVIDENCE_KINDS if k in kinds]


def _name_kinds(name: str, fmt: str) -> list[str]:
    """Raw kinds (with the "statement" pseudo-kind) named by a file name; a .log file is an activity log."""
    exts = _extensions(name)
    stem = _words(name.rsplit(".", 1)[0] if exts else name)
    found = [k for k, rx in _NAME_RE.items() if rx.search(stem)]
    if fmt == "log":
        found.append("activity_log")
    return found


def _body_mentions(body: str) -> dict[str, str]:
    """Kinds named in sentences that refer to an attachment, outside negated clauses: kind -> words used."""
    found: dict[str, str] = {}
    for sentence in _SENTENCES.split(body):
        if not _CUE.search(sentence):
            continue
        for clause in _CLAUSES.split(sentence):
            if not clause or _NEGATION.search(clause):
                continue
            words = _words(clause)
            for kind, rx in _KIND_RE.items():
                m = rx.search(words)
                if m and kind not in found:
                    found[kind] = m.group(0)
    return found


def assess(attachments: Sequence[Attachment], body_text: str, limits: Limits) -> EvidenceReport:
    """Which evidence kinds the attachments carry, and which attachments are rejected (SPEC 4)."""
    body = unicodedata.normalize("NFKC", body_text or "")[: limits.max_text_chars].lower()
    sof_context = bool(_SOF_CONTEXT.search(body))
    present: set[str] = set()
    rejected: list[Rejection] = []
    reasons: list[str] = []
    unexplained: list[tuple[str, str]] = []  # (display name, format) of evidence files whose names say nothing
    statements = False
    for att in attachments:
        shown = att.filename or "(unnamed)"
        danger = _danger(att, limits)
        if danger:
            rejected.append(Rejection(att.filename, danger))
            continue
        if len(att.payload) > limits.max_attachment_bytes:
            size, limit = _mib(len(att.payload)), _mib(limits.max_attachment_bytes)
            rejected.append(Rejection(att.filename, f"{TOO_LARGE} {size} is over the {limit} per-attachment limit"))
            continue
        name, _ = _clean_name(att.filename)
        label = sniff(att.payload)
        fmt = _format(name, label)
        if _is_decoration(att, fmt, name):
            reasons.append(f"{shown}: inline/signature image, not evidence")
            continue
        if fmt is None:
            reasons.append(f"{shown}: {label} is not an evidence file type")
            continue
        found = _name_kinds(name, fmt)
        kinds = [k for k in _resolve(found, sof_context) if fmt in ACCEPTS[k]]
        if kinds:
            statements = statements or "statement" in found
            present.update(kinds)
            reasons.append(f"{shown}: {', '.join(kinds)} from the file name ({label})")
        else:
            unexplained.append((shown, fmt))
    if unexplained:
        mentions = _body_mentions(body)
        for kind in _resolve(mentions, sof_context):
            source = mentions.get(kind) or mentions.get("statement", "")
            files = [n for n, fmt in unexplained if fmt in ACCEPTS[kind]]
            if files and kind not in present:
                present.add(kind)
                statements = statements or (kind == "source_of_funds" and "statement" in mentions)
                reasons.append(f"{kind} from the body ('{source}') for {', '.join(files)}")
    if sof_context and statements:
        reasons.append("statements counted as source_of_funds: the mail talks about source of funds")
    return EvidenceReport(
        present=tuple(k for k in EVIDENCE_KINDS if k in present),
        rejected=tuple(rejected),
        reasons=tuple(reasons),
    )


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB"
