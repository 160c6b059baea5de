"""Logging: JSON lines (default) or text to stderr, with secrets redacted.

Redaction happens here as a second line of defence (the code already avoids
logging bodies): every formatted record is passed through the secret
detector before it is written, as imapclient's logger adapter does for LOGIN.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from router.understand.secrets import redact

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def _redact(text: str) -> str:
    return redact(text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return _redact(json.dumps(data, ensure_ascii=False, default=str))


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(
            f"{k}={v}" for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")
        )
        line = f"{time.strftime('%H:%M:%S', time.localtime(record.created))} {record.levelname:<7} {record.getMessage()}"
        if extras:
            line += f" [{extras}]"
        if record.exc_info:
            line += " | " + self.formatException(record.exc_info).splitlines()[-1]
        return _redact(line)


def setup(level: str = "INFO", fmt: str = "json", stream: Any = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries that may log protocol lines or payloads stay quiet below WARNING.
    for name in ("imapclient", "imaplib", "mailparser", "apscheduler", "mail.log", "matplotlib", "PIL"):
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
