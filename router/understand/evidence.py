"""Attachments: what they really are, what evidence they carry, which are dangerous (SPEC 4).

What a file really is and whether it is dangerous is filetypes.py (magic
bytes, bounded archive inspection); this module decides what evidence the
safe files carry.

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

Which files count, from every mail client (issue 12):

* Files inside a zip or an Outlook ``winmail.dat`` (TNEF) count like
  attachments, after the same danger checks on the container; attached
  messages (``message/rfc822``) are walked by parse.py, so their files arrive
  here as attachments of their own.
* Decoration (signature logos, social icons) is an image that is small
  (at most `DECORATION_MAX_BYTES`) *and* either shown by the HTML body through
  ``cid:`` or named like a logo (``image001.png``, ``logo``).  Being inline
  or having a Content-ID says nothing: iPhone and Mac Mail send every photo
  as an inline part with a Content-ID inside multipart/mixed.
* A file whose name names evidence (``passport.heic``, ``身分證.jpg``) or a
  screenshot/photo (``Screenshot 2026-…``, ``截圖``, ``IMG_1234``) is never
  decoration.  A screenshot pasted into a Gmail or Outlook body is an inline
  ``image.png``/``image001.png`` shown by ``cid:``; it counts once it is over
  `DECORATION_MAX_BYTES` (a real screenshot is 50 KB to a few MB; logos are a
  few KB to tens of KB), so a small cropped paste can still be mistaken for a
  logo - the customer is then asked for it again, never told it was received.
* Images under `TINY_IMAGE_BYTES` (spacers, tracking pixels, icons) are too
  small to show a document unless their name says what they are.
* Only images can be decoration: a PDF shown inline counts.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from router.config import EVIDENCE_KINDS, Limits
from router.records import Attachment, EvidenceReport, Rejection
from router.understand import filetypes
from router.understand.filetypes import (
    CONTAINER_LABELS,
    IMAGE_LABELS,
    clean_name,
    extensions,
    sniff,
)

DANGEROUS = "dangerous:"
TOO_LARGE = "too large:"
TINY_IMAGE_BYTES = 4096  # smaller images are spacers and icons, not photos of documents
DECORATION_MAX_BYTES = 40 * 1024  # signature logos are smaller; real screenshots and photos are larger
_TEXT_EXTENSIONS = {"csv": "csv", "tsv": "csv", "txt": "txt", "text": "txt", "log": "log"}

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
        r"|residence permit|身份证|身份證|身分证|身分證|护照|護照|手持|证件|證件|驾照|駕照|驾驶证|駕駛證|通行证|通行證"
        r"|健保卡|自然人凭证|自然人憑證|居民证|居民證"
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
    r"|如下|请查收|請查收|发送|發送|提供|请见|請見|请看|請看|检附|檢附|压缩包|壓縮檔|压缩档",
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
# Names of pictures a person took or captured on purpose: never decoration.
_CAPTURE_NAME = re.compile(
    r"screen ?shot|screen ?cap|capture|bildschirmfoto|captura|снимок|скриншот|스크린샷|スクリーンショット"
    r"|截图|截圖|截屏|屏幕快照|螢幕擷取|螢幕快照|擷取|^img_\d{4}|^dsc_?\d|^pxl_\d|^photo|^scan|照片|相片",
    re.I,
)

_KIND_RE = {k: re.compile(v, re.I) for k, v in _STRICT.items()}
_NAME_RE = {k: re.compile(f"{v}|{_NAME_ONLY[k]}", re.I) for k, v in _STRICT.items()}


def _danger(att: Attachment, limits: Limits) -> str | None:
    """The `dangerous:` reason for one attachment, or None."""
    what = filetypes.danger(att.filename, att.payload, limits)
    return f"{DANGEROUS} {what}" if what else None



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
        exts = extensions(name)
        return _TEXT_EXTENSIONS.get(exts[-1]) if exts else None
    return None


def _not_evidence_image(att: Attachment, name: str) -> str | None:
    """Why an image that names nothing is not evidence (decoration or too small), or None (module docstring)."""
    if _CAPTURE_NAME.search(name):
        return None
    size = len(att.payload)
    if size < TINY_IMAGE_BYTES:
        return "image too small to show a document, not evidence"
    if size <= DECORATION_MAX_BYTES and (att.referenced or _DECORATION_NAME.search(name)):
        return "inline/signature image, not evidence"
    return None


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
    exts = extensions(name)
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


@dataclass
class _Tally:
    """What the files of one message showed so far."""

    present: set[str] = field(default_factory=set)
    rejected: list[Rejection] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    unexplained: list[tuple[str, str]] = field(default_factory=list)  # (shown name, format) whose names say nothing
    statements: bool = False


def assess(attachments: Sequence[Attachment], body_text: str, limits: Limits) -> EvidenceReport:
    """Which evidence kinds the attachments carry, and which attachments are rejected (SPEC 4)."""
    body = unicodedata.normalize("NFKC", body_text or "")[: limits.max_text_chars].lower()
    sof_context = bool(_SOF_CONTEXT.search(body))
    tally = _Tally()
    for att in attachments:
        _attachment(att, limits, sof_context, tally)
    if tally.unexplained:
        _from_body(body, sof_context, tally)
    if sof_context and tally.statements:
        tally.reasons.append("statements counted as source_of_funds: the mail talks about source of funds")
    return EvidenceReport(
        present=tuple(k for k in EVIDENCE_KINDS if k in tally.present),
        rejected=tuple(tally.rejected),
        reasons=tuple(tally.reasons),
    )


def _attachment(att: Attachment, limits: Limits, sof_context: bool, tally: _Tally) -> None:
    """Reject a dangerous or oversized attachment, else count it (or the files inside it)."""
    shown = att.filename or "(unnamed)"
    danger = _danger(att, limits)
    if danger:
        tally.rejected.append(Rejection(att.filename, danger))
        return
    if len(att.payload) > limits.max_attachment_bytes:
        size, limit = _mib(len(att.payload)), _mib(limits.max_attachment_bytes)
        tally.rejected.append(Rejection(att.filename, f"{TOO_LARGE} {size} is over the {limit} per-attachment limit"))
        return
    label = sniff(att.payload)
    if label in CONTAINER_LABELS:
        inside = filetypes.members(att.filename, att.payload, limits)
        tally.reasons.append(f"{shown}: {label} with {len(inside)} file(s), each counted")
        for member in inside:
            _file(f"{shown}/{member.path}", member.path, member.label, None, sof_context, tally)
        return
    _file(shown, att.filename, label, att, sof_context, tally)


def _file(shown: str, filename: str, label: str, att: Attachment | None, sof_context: bool, tally: _Tally) -> None:
    """Count one safe file: kinds from its name, or kept for the body to explain; `att` None inside a container."""
    name, _ = clean_name(filename)
    fmt = _format(name, label)
    if fmt is None:
        tally.reasons.append(f"{shown}: {label} is not an evidence file type")
        return
    found = _name_kinds(name, fmt)
    kinds = [k for k in _resolve(found, sof_context) if fmt in ACCEPTS[k]]
    if kinds:
        tally.statements = tally.statements or "statement" in found
        tally.present.update(kinds)
        tally.reasons.append(f"{shown}: {', '.join(kinds)} from the file name ({label})")
        return
    why = _not_evidence_image(att, name) if att is not None and fmt == "image" else None
    if why:
        tally.reasons.append(f"{shown}: {why}")
        return
    tally.unexplained.append((shown, fmt))


def _from_body(body: str, sof_context: bool, tally: _Tally) -> None:
    """Kinds the body names for files whose names say nothing."""
    mentions = _body_mentions(body)
    for kind in _resolve(mentions, sof_context):
        source = mentions.get(kind) or mentions.get("statement", "")
        files = [n for n, fmt in tally.unexplained if fmt in ACCEPTS[kind]]
        if files and kind not in tally.present:
            tally.present.add(kind)
            tally.statements = tally.statements or (kind == "source_of_funds" and "statement" in mentions)
            tally.reasons.append(f"{kind} from the body ('{source}') for {', '.join(files)}")


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB"
