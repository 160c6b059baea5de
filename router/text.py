"""Plain-text helpers shared by parsing, the checks and the classifier.

Why here: the classifier must see exactly the text the daemon sees, so the
quote/signature splitter and the HTML-to-text step live in one place and both
`router.parse` and `training/` call them.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# A line that opens quoted history: "On <date>, <name> wrote:", Outlook and
# Chinese webmail separators, forwarded-message banners.
_QUOTE_OPENERS = re.compile(
    r"""^\s*(?:
        On\s.{0,200}?\bwrote:\s*$
      | Le\s.{0,200}?a\s+écrit\s*:\s*$
      | Am\s.{0,200}?schrieb.{0,80}:\s*$
      | El\s.{0,200}?escribió\s*:\s*$
      | Em\s.{0,200}?escreveu\s*:\s*$
      | Il\s.{0,200}?ha\s+scritto\s*:\s*$
      | Op\s.{0,200}?schreef.{0,80}:\s*$
      | .{0,120}?(?:\d|@).{0,200}?(?:пишет|написал|написала|написал\(а\))\s*:\s*$
      | .{0,200}?tarihinde.{0,120}?yazdı\s*:\s*$
      | Pada\s.{0,200}?menulis\s*:\s*$
      | Vào\s.{0,200}?đã\s+viết\s*:\s*$
      | .{0,120}?(?:\d|@).{0,200}?(?:のメッセージ|さんは書きました)\s*[:：]\s*$
      | .{0,120}?(?:\d|@).{0,200}?작성\s*[:：]\s*$
      | في\s.{0,200}?كتب.{0,80}[:：]\s*$
      | -{2,}\s*(?:Original\s+Message|Forwarded\s+message|原始邮件|原始郵件|转发邮件|轉寄郵件|Reply\s+message
          |Mensaje\s+original|Mensaje\s+reenviado|Mensagem\s+original|Mensagem\s+encaminhada|Message\s+d'origine|Message\s+transféré
          |Ursprüngliche\s+Nachricht|Weitergeleitete\s+Nachricht|Messaggio\s+originale|Oorspronkelijk\s+bericht
          |Исходное\s+сообщение|Пересылаемое\s+сообщение|Orijinal\s+ileti|Pesan\s+Asli|Original\s+メッセージ|元のメッセージ|원본\s+메시지)\s*-{2,}.*$
      | -{5,}\s*原始邮件\s*-{5,}.*$
      | _{10,}\s*$
      | 在\s?.{0,120}?(?:写道|寫道)\s*[:：]\s*$
      | .{0,120}?于\s?.{0,60}?(?:写道|寫道)\s*[:：]\s*$
      | .{0,120}?於\s?.{0,12}?\d.{0,60}?(?:写道|寫道)\s*[:：]\s*$  # 於 + a date: 由於, 關於 are everyday words
      | Begin\s+forwarded\s+message\s*:\s*$
    )""",
    re.IGNORECASE | re.VERBOSE,
)
_SIGNATURE_OPENERS = re.compile(
    r"""^\s*(?:
        --\s?$
      | Sent\s+from\s+my\s+(?:iPhone|iPad|iPod|Android|Samsung|Galaxy|Huawei|Honor|Xiaomi|Redmi|OnePlus|Oppo|Vivo|Pixel|BlackBerry|Windows\s+Phone|Nokia|Motorola|Sony|LG|HTC|mobile|phone|smartphone|cell|tablet|Mac|Verizon|T-Mobile|Sprint)\b.{0,40}$
      | Sent\s+from\s+(?:Outlook|Mail\s+for\s+Windows|Yahoo\s+Mail).{0,40}$
      | Get\s+Outlook\s+for\s+\w+.{0,20}$
      | (?:Enviado\s+desde\s+mi|Enviado\s+do\s+meu|Envoyé\s+de\s+mon|Von\s+meinem|Inviato\s+da|Verzonden\s+vanaf\s+mijn
          |Отправлено\s+с|iPhone['’]umdan\s+gönderildi|Dikirim\s+dari|Gửi\s+từ|iPhoneから送信|나의\s+iPhone에서\s+보냄|أُرسلت\s+من|أرسلت\s+من)\b.{0,40}$
      | 发自我的.{0,30}$
      | 發自我的.{0,30}$
      | 来自我的.{0,30}$
      | 从我的.{0,20}发送\s*$
    )""",
    re.IGNORECASE | re.VERBOSE,
)


# The header block of a quoted message as Outlook (and Chinese Outlook, QQ,
# Foxmail) writes it: a "From:" line followed within a few lines by "Sent:",
# "Date:" or "To:".  A lone "From: ..." line in new text is not enough.
_FROM_LINE = re.compile(r"^\s*\*?(?:From|发件人|寄件者|發件人)\s*\*?\s*[:：]", re.IGNORECASE)
_FROM_FOLLOWERS = re.compile(
    r"^\s*\*?(?:Sent|Date|To|Cc|Subject|发送时间|发送日期|日期|时间|收件人|主题|寄件日期|傳送時間|收件者|主旨)\s*\*?\s*[:：]",
    re.IGNORECASE,
)
# "On <date>, <name> <address>" wrapped before "wrote:" by plain-text mailers.
_ON_START = re.compile(r"^\s*(?:On|Le|Am|El|Em|Il|Op|Pada|Vào|在)\s", re.IGNORECASE)
_WROTE_END = re.compile(r"(?:\bwrote|a\s+écrit|schrieb|escribió|escreveu|ha\s+scritto|schreef|menulis|đã\s+viết|写道|寫道)\s*[:：]\s*$", re.IGNORECASE)
_MAX_LINE = 400


def _opens_quote(lines: list[str], i: int) -> bool:
    line = lines[i]
    if _QUOTE_OPENERS.match(line) or _SIGNATURE_OPENERS.match(line):
        return True
    if _FROM_LINE.match(line):
        return any(_FROM_FOLLOWERS.match(nxt) for nxt in lines[i + 1 : i + 4])
    if _ON_START.match(line) and i + 1 < len(lines) and _WROTE_END.search(lines[i + 1]):
        joined = line.rstrip() + " " + lines[i + 1].strip()
        return len(joined) <= _MAX_LINE and bool(_QUOTE_OPENERS.match(joined))
    return False


def split_reply(text: str) -> str:
    """Return the new text of a message: quoted history and signature removed.

    Quoted history starts at a known opener line (also an "On ... wrote:"
    attribution wrapped over two lines, and an Outlook "From:/Sent:" header
    block) or at the first run of '>'-quoted lines; a signature starts at
    '-- ' or a phone/webmail banner.  Single '>' lines inside new text are
    dropped.  If cutting would leave nothing (a message that is all quote),
    the whole text is kept so that the classifier still has something to read.
    """
    lines = text.splitlines()
    cut = len(lines)
    for i, line in enumerate(lines):
        if len(line) > _MAX_LINE:
            continue
        if _opens_quote(lines, i):
            cut = i
            break
        if line.lstrip().startswith(">") and i + 1 < len(lines) and lines[i + 1].lstrip().startswith(">"):
            cut = i
            break
    new = "\n".join(line for line in lines[:cut] if not line.lstrip().startswith(">")).strip()
    return new if new else text.strip()


_DROP_UNTIL = {tag: re.compile(rf"</{tag}\s*>", re.I) for tag in ("script", "style", "title", "textarea", "template")}
_HEAD_END = re.compile(r"</head\s*>", re.I)
_TAG_NAME = re.compile(r"</?([a-zA-Z][a-zA-Z0-9:-]{0,30})")
# Line breaks: <br> is one hard break each; block tags need "a new line" and
# paragraph-like ones "a blank line", however many of them meet.
_LINE, _PARAGRAPH, _BR = "\x01", "\x02", "\x03"
_BLOCK_TAGS = {
    **dict.fromkeys("div tr li dt dd tbody thead tfoot ul ol dl section article header footer address center form title".split(), _LINE),
    **dict.fromkeys("p h1 h2 h3 h4 h5 h6 table blockquote pre hr".split(), _PARAGRAPH),
    "br": _BR,
}
_BREAKS_RUN = re.compile(r"[ \t\r\f\v\u00a0]*[\x01\x02\x03][\x01\x02\x03\s\u00a0]*")
_CELL_TAGS = frozenset({"td", "th"})
_MAX_TAG = 2000


_NO_MARKERS = {ord(_LINE): None, ord(_PARAGRAPH): None, ord(_BR): None}


def _breaks(m: re.Match[str]) -> str:
    run = m.group(0)
    return "\n" * max(2 if _PARAGRAPH in run else 1, run.count(_BR))


def html_to_text(html: str) -> str:
    """Turn an HTML body into readable text.

    A small, linear-time scan (drop comments, script, style and head; block
    tags become line breaks, table cells spaces; strip the other tags;
    unescape entities) is used instead of a full renderer because it runs on
    untrusted input at hundreds of messages a second.  Every search moves
    forward, so unclosed tags and comments and long runs of '<' cost one pass.
    An unclosed comment, script or style hides the rest of the document, as it
    does in a browser.  A '<' that does not start a tag is text.
    """
    import html as html_mod

    html = html.translate(_NO_MARKERS)  # the break markers below are ours alone
    out: list[str] = []
    n = len(html)
    pos = 0
    next_gt = -1  # position of the next '>' at or after the current '<', or n
    while pos < n:
        lt = html.find("<", pos)
        if lt < 0:
            out.append(html[pos:])
            break
        out.append(html[pos:lt])
        if html.startswith("<!--", lt):
            end = html.find("-->", lt + 4)
            if end < 0:
                break
            pos = end + 3
            continue
        if next_gt <= lt:
            next_gt = html.find(">", lt + 1)
            if next_gt < 0:
                next_gt = n
        nxt = html[lt + 1 : lt + 2]
        if next_gt >= n or next_gt - lt > _MAX_TAG or not (nxt.isascii() and (nxt.isalpha() or nxt in "/!?")):
            out.append("<")
            pos = lt + 1
            continue
        m = _TAG_NAME.match(html, lt, next_gt)
        name = m.group(1).lower() if m else ""
        closing = html.startswith("</", lt)
        pos = next_gt + 1
        if not closing and name in _DROP_UNTIL:
            end_m = _DROP_UNTIL[name].search(html, pos)
            if end_m is None:
                break
            pos = end_m.end()
            continue
        if not closing and name == "head":
            end_m = _HEAD_END.search(html, pos)
            if end_m is not None:
                pos = end_m.end()
                continue
        if name in _BLOCK_TAGS:
            out.append(_BLOCK_TAGS[name])
        elif name in _CELL_TAGS:
            out.append(" ")
    text = html_mod.unescape("".join(out))  # &#1; and the like unescape to nothing
    text = _BREAKS_RUN.sub(_breaks, text)
    text = re.sub(r"[ \t\r\f\v\u00a0\u200b]+", " ", text)
    text = re.sub(r" ?\n ?", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def normalize(text: str) -> str:
    """NFKC (full-width digits and letters to ASCII) without touching Han."""
    return unicodedata.normalize("NFKC", text)


@lru_cache(maxsize=1)
def _t2s_table() -> dict[int, str]:
    """OpenCC's Traditional -> Simplified character table, as a str.translate map.

    OpenCC's own converter walks a phrase tree in pure Python (~0.4 ms per
    short text); the daemon folds several texts per message, so we use
    OpenCC's character dictionary (TSCharacters, first candidate) directly.
    Phrase-level choices (乾/幹 -> 干 ...) do not matter for matching and
    classification.
    """
    from importlib import resources

    table: dict[int, str] = {}
    data = resources.files("opencc").joinpath("dictionary/TSCharacters.txt").read_text(encoding="utf-8")
    for line in data.splitlines():
        trad, _, simp = line.partition("\t")
        target = simp.split(" ")[0] if simp else ""
        if len(trad) == 1 and target and trad != target:
            table[ord(trad)] = target
    return table


@lru_cache(maxsize=512)
def to_simplified(text: str) -> str:
    """Fold Traditional Chinese to Simplified (OpenCC's t2s character table).

    A char n-gram model trained on Simplified scores 64% on Traditional and
    83.5% once Traditional is folded first (MASSIVE, measured here), so every
    text is folded before the checks and the model see it.
    """
    return text.translate(_t2s_table())
