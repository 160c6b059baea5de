"""Raw bytes -> ParsedMail, in three parts along what they are about:

- charsets.py: bytes -> text when labels lie (GB2312 as GB18030, Big5 as HKSCS, detection);
- headers.py:  RFC 2047 encoded words, raw 8-bit header text, addresses, Message-IDs;
- mime.py:     the MIME walk with its limits, body text, attachments and their names;
- message.py:  the whole message (the only module that imports mail-parser).

`router.parse.parse(raw, limits)` never raises; see message.py.
"""

from router.parse.charsets import decode_bytes
from router.parse.headers import decode_header
from router.parse.message import content_hash, fallback_message_id, parse, problem_mail
from router.parse.mime import MAX_HEADER_FIELDS

__all__ = ["MAX_HEADER_FIELDS", "content_hash", "decode_bytes", "decode_header", "fallback_message_id", "parse", "problem_mail"]
