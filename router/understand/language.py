"""Language of a message: zh (Simplified or Traditional), en, or other - and which other.

Script counting is enough for the two languages we answer in and needs no
model: Han characters without kana or hangul are Chinese; Latin text with
common English function words is English; anything else is `other` (and
gets the English reply, the exchange's lingua franca).

Mixed text is weighed, not decided by the first Han character: a Chinese
sentence with English product words ("我的withdrawal一直pending") is Chinese,
an English letter that names a person (王小明) is English.  One Han
character carries about as much as one English word, so Chinese wins when it
has at least as many Han characters as there are Latin words.  Short words
that other Latin-script languages share with English ("a", "no", "in", "me",
"on") count only half, so "no puedo acceder a mi cuenta" stays `other`.

The language is the customer's, so it is judged on what they wrote: a legal
disclaimer, a mobile banner or a signature block appended after a closing
line ("Best regards", "此致") is cut first (`customer_text`), or a short
Spanish mail under a long English company disclaimer would be "en".

`detail` names the language as a tag for the record (SPEC 8
``language_detail``): ``zh-Hans``, ``zh-Hant``, ``en``, or an ISO 639-1 code
for the others, so replies can follow it later.  Scripts that belong to one
language decide at once (hangul: ko, kana: ja, Thai: th, ...); Latin,
Cyrillic and Arabic text goes to py3langid (a naive Bayes model shipped
inside the package, numpy only, loaded once on the first such mail),
restricted to the languages an exchange's mailbox plausibly sees; "und"
when it cannot tell.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from router.text import to_simplified

# Words that mark English text and are rare as words of other Latin-script
# languages the exchange hears from (French, Spanish, German, Italian, ...).
_EN_WORDS = frozenset(
    "the and to of for is are was were be been my you your it this that these those "
    "have has had not please can could would will with from we our account "
    "hi hello dear thanks thank regards help what why how when who which there "
    "they them their she his does did don't can't cannot i'm it's cant dont wont im ive".split()
)
# English words that are also common words of other Latin-script languages.
_EN_WEAK = frozenset("a an i in on at as no me so or do he her".split())
_WORD = re.compile(r"[A-Za-z]+(?:['\u2019][a-z]+)?")


def detect(text: str) -> tuple[str, str | None]:
    """Return (language, script): ('zh', 'hans'|'hant'), ('en', None), ('other', None)."""
    sample = customer_text(text)[:5000]
    han = kana = hangul = other_letters = 0
    for ch in sample:
        o = ord(ch)
        if 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF:
            han += 1
        elif 0x3040 <= o <= 0x30FF:
            kana += 1
        elif 0xAC00 <= o <= 0xD7AF or 0x1100 <= o <= 0x11FF or 0x3130 <= o <= 0x318F:
            hangul += 1
        elif o > 0x24F and ch.isalpha():
            other_letters += 1
    words = _WORD.findall(sample)
    chinese = han >= 2 and kana * 5 < han and hangul * 5 < han
    if chinese and han >= len(words):
        return "zh", _script(sample)
    if _english(words, other_letters):
        return "en", None
    if chinese and kana == 0 and hangul == 0:
        return "zh", _script(sample)
    return "other", None


def _english(words: list[str], other_letters: int) -> bool:
    """Enough English function words, and the letters are mostly Latin."""
    if not words or other_letters >= len(words):
        return False
    lowered = [w.lower().replace("\u2019", "'") for w in words]
    strong = sum(1 for w in lowered if w in _EN_WORDS)
    weak = sum(1 for w in lowered if w in _EN_WEAK)
    score = strong + weak / 2
    if len(words) <= 6:
        return strong >= 1
    return strong >= 2 and score >= 0.12 * len(words)


def _script(text: str) -> str:
    """'hant' when folding to Simplified changes a noticeable share of Han."""
    han = [ch for ch in text if "\u4e00" <= ch <= "\u9fff"]
    if not han:
        return "hans"
    folded = to_simplified("".join(han))
    changed = sum(1 for a, b in zip(han, folded) if a != b)
    return "hant" if changed >= max(1, len(han) // 20) else "hans"


# --- what the customer wrote ------------------------------------------------

# A line that starts a disclaimer, a mobile banner or a signature's closing.
_TRAILER_LINE = re.compile(
    r"""^\s*(?:
        (?:confidential(?:ity)?(?:\s+(?:notice|note|statement))?|disclaimer|important\s+notice|legal\s+notice
          |privileged\s+(?:and|&)\s+confidential|notice\s+of\s+confidentiality)\b
      | (?:this|the\s+information\s+(?:contained\s+)?in\s+this)\s+(?:e-?mail|message|communication|transmission)
          \b.{0,80}\b(?:confidential|privileged|intended|addressee|recipient|legally)
      | (?:if\s+you\s+(?:are\s+not|have\s+received\s+this))\b
      | sent\s+from\s+my\s+\w+|get\s+outlook\s+for\s+\w+
      | (?:best|kind|warm|warmest)?\s*regards,?\s*$|(?:many\s+)?thanks(?:\s+in\s+advance)?,?\s*$|sincerely,?\s*$|cheers,?\s*$
      | (?:免责声明|免責聲明|保密声明|保密聲明|机密|機密|本邮件|本郵件|此邮件|此郵件|本电子邮件|本電子郵件|此电子邮件|此電子郵件)
      | (?:发自|發自|寄自|来自|來自)我的
      | (?:此致|敬礼|敬禮|顺颂|順頌|祝好)\s*[，,。!！]?\s*$
    )""",
    re.IGNORECASE | re.MULTILINE | re.VERBOSE,
)
_MIN_HEAD = 15  # letters the customer must have written before a trailer for the cut to count


def customer_text(text: str) -> str:
    """The text before an appended disclaimer, mobile banner or closing line.

    Cut at the first such line that has at least a short sentence before it,
    so a mail that opens with "CONFIDENTIAL" keeps its body.
    """
    for m in _TRAILER_LINE.finditer(text, 0, 20000):
        head = text[: m.start()]
        if sum(1 for ch in head if ch.isalpha()) >= _MIN_HEAD:
            return head
    return text


# --- which language ---------------------------------------------------------

# Scripts that name their language outright, checked on letters of the customer's text.
_SCRIPT_LANGS = (
    ("ko", ((0xAC00, 0xD7AF), (0x1100, 0x11FF), (0x3130, 0x318F))),
    ("ja", ((0x3040, 0x30FF),)),
    ("th", ((0x0E00, 0x0E7F),)),
    ("he", ((0x0590, 0x05FF),)),
    ("el", ((0x0370, 0x03FF),)),
    ("hi", ((0x0900, 0x097F),)),
    ("bn", ((0x0980, 0x09FF),)),
    ("ka", ((0x10A0, 0x10FF),)),
    ("hy", ((0x0530, 0x058F),)),
    ("km", ((0x1780, 0x17FF),)),
    ("my", ((0x1000, 0x109F),)),
)
# Languages py3langid may answer for Latin, Cyrillic and Arabic script text.
_MODEL_LANGS = (
    "en es pt fr de it nl pl ro cs sk hu sv da no fi tr id ms vi tl sw ru uk bg sr be kk ar fa ur".split()
)


def detail(text: str) -> str:
    """A language tag for the record: zh-Hans, zh-Hant, en, an ISO 639-1 code, or "und"."""
    lang, script = detect(text)
    if lang == "zh":
        return "zh-Hant" if script == "hant" else "zh-Hans"
    if lang == "en":
        return "en"
    sample = customer_text(text)[:2000]
    by_script = _by_script(sample)
    if by_script:
        return by_script
    if sum(1 for ch in sample if ch.isalpha()) < 3:
        return "und"
    code, _score = _identifier().classify(sample)
    return "und" if code == "en" else str(code)  # detect() said not English: the model is unsure


def _by_script(sample: str) -> str | None:
    counts: dict[str, int] = {}
    letters = 0
    for ch in sample:
        if not ch.isalpha():
            continue
        letters += 1
        o = ord(ch)
        for code, ranges in _SCRIPT_LANGS:
            if any(lo <= o <= hi for lo, hi in ranges):
                counts[code] = counts.get(code, 0) + 1
                break
    if not counts:
        return None
    code, n = max(counts.items(), key=lambda kv: kv[1])
    if code == "ja" or n * 4 >= letters:  # kana among kanji is Japanese however few
        return code
    return None


@cache
def _identifier() -> Any:
    """py3langid's model, restricted to `_MODEL_LANGS`, loaded once.

    The package ships it xz-compressed: decompressing it costs about 1.2 s
    and 80 MiB of private memory in every process that loads it.  The first
    load writes the arrays the router uses, uncompressed, to a cache folder
    (`_table_dir`); later loads map them read-only (numpy mmap), which takes
    milliseconds, and the router's processes (the daemon and its forked
    triage workers) share those pages, reading only the ones a mail needs.
    Where the cache cannot be written the model is decompressed as before.
    """
    import numpy as np

    from py3langid.langid import LanguageIdentifier  # type: ignore[import-untyped]

    folder = _table_dir()
    tables = _read_tables(folder) if folder is not None else None
    if tables is None:
        tables = _decompressed_tables()
        if folder is not None:
            _write_tables(folder, tables)
            tables = _read_tables(folder) or tables
    ptc, pc, classes, nextmove, rows, output = tables
    identifier = LanguageIdentifier(ptc, pc, classes, _ints(nextmove), _ints(output), norm_probs=False, tk_row=_ints(rows))
    # The DFA walk indexes these per byte of text: machine integers in one
    # buffer, not a list of Python ints whose reference counts each lookup
    # writes (which copies their pages into every forked worker).
    identifier._rowbase = _ints(np.asarray(rows, dtype=np.int64) << 8)
    return identifier


_TABLE_NAMES = ("ptc", "pc", "classes", "nextmove", "rows", "output")


def _decompressed_tables() -> tuple[Any, ...]:
    """(ptc, pc, classes, nextmove, rows, output) from the package's model, restricted as `set_languages` does."""
    import numpy as np

    from py3langid.langid import MODEL_DIR, MODEL_FILE
    from py3langid.modelio import load_model  # type: ignore[import-untyped]

    ptc, pc, classes, nextmove, rows, output = load_model(MODEL_DIR / MODEL_FILE)
    keep = set(_MODEL_LANGS)
    unknown = keep - set(classes)
    if unknown:
        raise ValueError(f"py3langid has no model for {sorted(unknown)}")
    indices = [i for i, c in enumerate(classes) if c in keep]
    return (
        np.ascontiguousarray(np.asarray(ptc)[:, indices]),
        np.asarray(pc)[indices],
        [classes[i] for i in indices],
        np.frombuffer(nextmove, dtype=_array_dtype(nextmove)),
        np.frombuffer(rows, dtype=_array_dtype(rows)),
        np.asarray(output, dtype=np.int32),
    )


def _array_dtype(a: Any) -> Any:
    """The numpy dtype of a stdlib array('H'/'I'/'L')."""
    import numpy as np

    return np.dtype(f"u{a.itemsize}")


def _ints(a: Any) -> Any:
    """A flat integer numpy array as a memoryview: indexing it gives a Python int, as a list or array would."""
    import numpy as np

    arr = np.ascontiguousarray(a)
    fmt: Any = arr.dtype.char
    return memoryview(arr.data).cast("B").cast(fmt)


def _table_dir() -> Path | None:
    """Where the uncompressed tables of this py3langid model and language set live; None if no cache folder."""
    try:
        from py3langid.langid import MODEL_DIR, MODEL_FILE

        stat = (MODEL_DIR / MODEL_FILE).stat()
    except (ImportError, OSError):
        return None
    key = hashlib.sha256(f"v1:{stat.st_size}:{stat.st_mtime_ns}:{' '.join(_MODEL_LANGS)}".encode()).hexdigest()[:16]
    base = os.environ.get("ROUTER_CACHE_DIR") or os.path.join(os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache"), "router")
    return Path(base) / f"langid-{key}"


def _read_tables(folder: Path) -> tuple[Any, ...] | None:
    import numpy as np

    try:
        arrays = [np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False) for name in _TABLE_NAMES]
    except FileNotFoundError:
        return None
    except Exception:  # noqa: BLE001 - empty (EOFError), truncated (ValueError), unreadable: unpack again and replace it
        _set_aside(folder)
        return None
    ptc, pc, classes, nextmove, rows, output = (np.asarray(a) for a in arrays)
    if (ptc.ndim != 2 or ptc.shape[1] != len(pc) or len(classes) != len(pc) or len(rows) != len(output)
            or not all(a.dtype.isnative for a in (ptc, pc, nextmove, rows, output))):
        _set_aside(folder)
        return None
    return ptc, pc, [str(c) for c in classes], nextmove, rows, output


def _set_aside(folder: Path) -> None:
    """Move a damaged table folder out of the way, so the next write replaces it instead of
    failing on it forever, then delete it: a cache keeps no damaged copies (the rename first,
    so no reader ever sees a half-deleted folder)."""
    aside = folder.with_name(f".{folder.name}.damaged.{os.getpid()}")
    try:
        os.replace(folder, aside)
    except OSError:
        return
    shutil.rmtree(aside, ignore_errors=True)


def _write_tables(folder: Path, tables: tuple[Any, ...]) -> None:
    """Write the tables into a temporary folder and rename it: a reader sees all of them or none."""
    import numpy as np

    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    except OSError:
        return
    try:
        for name, value in zip(_TABLE_NAMES, tables):
            with open(tmp / f"{name}.npy", "wb") as f:
                np.save(f, np.asarray(value), allow_pickle=False)
                f.flush()
                os.fsync(f.fileno())  # on disk before it is mapped: no half-written table after a crash
        os.replace(tmp, folder)
    except OSError:  # no space, or another process was first (its folder stays)
        shutil.rmtree(tmp, ignore_errors=True)


def preload() -> None:
    """Load py3langid's model now (about 1.2 s the first time, see `_identifier`), so the first non-zh/en mail a daemon sees is not the one that waits."""
    _identifier()
