"""Header values built from customer input, made safe (no CR/LF injection)."""

from __future__ import annotations

import email.policy
import re
from email import headerregistry
from email.contentmanager import _encode_text  # type: ignore[attr-defined]  # set_content()'s choice of encoding
from email.policy import Policy
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u0085]+")


def clean(value: str, limit: int = 200) -> str:
    """One line, no control characters, bounded length.

    Decoded header text can carry CR/LF from encoded words (=?utf-8?q?=0D=0A?=)
    or raw input; anything below 0x20 is folded into a space so it can never
    start a new header when the value is written out again.
    """
    text = _CONTROL.sub(" ", value or "")
    text = re.sub(r"\s{2,}", " ", text).strip()
    return text[:limit]


class _CachedRegistry(headerregistry.HeaderRegistry):
    """The stdlib's header registry, with each header's class made once.

    `HeaderRegistry.__getitem__` builds a new class with `type()` for every
    header set on an `EmailMessage` (CPython 3.11): about a quarter of the
    cost of building a forward or a reply.  The classes are the same.
    """

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type[headerregistry.BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[headerregistry.BaseHeader]:
        key = name.lower()
        cls = self._made.get(key)
        if cls is None:
            cls = self._made[key] = super().__getitem__(name)
        return cls


# email.policy.SMTP (RFC 5322 with CRLF), with the cached registry; what act/ builds mail with.
_REGISTRY = _CachedRegistry()
SMTP_POLICY = email.policy.SMTP.clone(header_factory=_REGISTRY)


# -- wire bytes without the header registry --------------------------------------
# Building an EmailMessage parses every header value into the registry's parse
# tree and folds it again on the way out; for the short ASCII values the router
# writes (addresses, Message-IDs, case ids) that gives back the value as it was.
# `header_line` writes those directly and hands everything else (non-ASCII
# text for RFC 2047, long values to fold, anything that looks like an encoded
# word) to the policy, so the bytes are the ones `BytesGenerator` writes.
# tests/test_reply_bytes.py checks the two against each other.

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM = rf"{_ATOM}(?:\.{_ATOM})*"
_PLAIN_ADDRESS = re.compile(rf"{_DOT_ATOM}@{_DOT_ATOM}")
PLAIN_MSG_ID = re.compile(rf"<{_DOT_ATOM}@{_DOT_ATOM}>")
_PLAIN_DATE = re.compile(r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                         r"\d{4} \d\d:\d\d:\d\d [+-]\d{4}")
_PLAIN_TEXT = re.compile(r"[\x21-\x7e]+(?: [\x21-\x7e]+)*")  # printable ASCII words, single spaces


def _verbatim(name: str, value: str) -> bool:
    """True when the registry gives `value` back unchanged (no parsing differences, no encoding)."""
    if "=?" in value:  # an encoded word (or what could be read as one) is decoded by the registry
        return False
    kind = _REGISTRY[name]
    if issubclass(kind, headerregistry.UnstructuredHeader):  # Subject, X-*, In-Reply-To, References, ...
        return _PLAIN_TEXT.fullmatch(value) is not None
    if issubclass(kind, headerregistry.AddressHeader):
        return _PLAIN_ADDRESS.fullmatch(value) is not None
    if issubclass(kind, headerregistry.MessageIDHeader):
        return PLAIN_MSG_ID.fullmatch(value) is not None
    if issubclass(kind, headerregistry.DateHeader):  # the registry writes the date it parsed (weekday recomputed)
        return _PLAIN_DATE.fullmatch(value) is not None and format_datetime(parsedate_to_datetime(value)) == value
    return False  # MIME-Version, Content-*: structured, not ours to guess


def header_line(name: str, value: str, policy: Policy = SMTP_POLICY,
                max_length: int | None = None) -> bytes:
    """`name: value` as `BytesGenerator` writes it for an `EmailMessage` with `policy` (CRLF, folded, RFC 2047).

    `max_length` is the policy's line limit for this header when it is not
    `policy.max_line_length` (the forward's X-Router-Entities: 998).
    """
    limit = max_length or policy.max_line_length or 78
    if len(name) + 2 + len(value) <= limit and name.isascii() and _verbatim(name, value):
        return f"{name}: {value}{policy.linesep}".encode("ascii")
    return policy.fold_binary(*policy.header_store_parse(name, value))


@lru_cache(maxsize=64)
def constant_line(name: str, value: str, policy: Policy = SMTP_POLICY) -> bytes:
    """A header that is the same in every message (Content-Type with its parameters), folded by the policy once."""
    return policy.fold_binary(*policy.header_store_parse(name, value))


def text_body(text: str, policy: Policy = SMTP_POLICY) -> tuple[bytes, bytes]:
    """(content headers, body) of `set_content(text)` as smtplib's `BytesGenerator` writes them: utf-8, CRLF lines.

    The Content-Transfer-Encoding is the one the email package picks
    (7bit, 8bit, quoted-printable or base64, `contentmanager._encode_text`);
    a line starting "From " gets ">" as there (smtplib makes its generator
    without a policy, and such a generator mangles them).
    """
    cte, payload = _encode_text(text, "utf-8", None, policy)
    payload = _FROM.sub(">From ", payload)  # smtplib's BytesGenerator mangles From lines (mangle_from_ is True)
    head = constant_line("Content-Type", 'text/plain; charset="utf-8"', policy) + constant_line("Content-Transfer-Encoding", cte, policy)
    return head, _NL.sub(policy.linesep, payload).encode("ascii", "surrogateescape")


_NL = re.compile(r"\r\n|\r|\n")  # email.generator.NLCRE: the generator's line ends
_FROM = re.compile(r"^From ", re.MULTILINE)  # email.generator.fcre
