"""A router configuration pointing at a sandbox's servers (demo, benchmarks, tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol


class ImapEndpoint(Protocol):
    """What router_config needs of an IMAP test server (Dovecot, Cyrus, Courier)."""

    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def user(self) -> str: ...


class SmtpEndpoint(Protocol):
    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...


def router_config(
    path: Path,
    dovecot: ImapEndpoint,
    sink: SmtpEndpoint,
    state_dir: Path,
    password_env: str,
    **sections: dict[str, Any],
) -> Path:
    """Write a config.toml that points the router at this sandbox.

    `sections` override or add keys, e.g. imap={"poll_interval_seconds": 5};
    the model and training data default to the checkout's.
    """
    repo = Path(__file__).resolve().parents[2]
    base: dict[str, dict[str, Any]] = {
        "imap": {"host": dovecot.host, "port": dovecot.port, "security": "none", "username": dovecot.user,
                 "password_env": password_env},
        "smtp": {"host": sink.host, "port": sink.port, "security": "none", "from_address": "support@exchange.example"},
        "state": {"path": str(state_dir / "router.sqlite3")},
        "model": {"path": str(repo / "models" / "current.joblib"), "training_data": str(repo / "training_data")},
    }
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    lines: list[str] = []
    for name, values in base.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
