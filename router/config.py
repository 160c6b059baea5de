"""config.toml -> frozen, validated settings (SPEC 10).

The file is found from `--config`, then `ROUTER_CONFIG`, then `./config.toml`;
with none of them the built-in defaults (router/defaults.toml, equal to the
shipped example) are used, which is enough for offline `router triage`.
Every problem is reported as a `ConfigError` naming the key.  Passwords are
never read from the file itself, only from the environment or a file it names,
and only when a mailbox is actually opened.
"""

from __future__ import annotations

import copy
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

from router.errors import ConfigError
from router.mailboxes import DEFAULT as DEFAULT_MAILBOX
from router.records import Routing
from router.oauth.health import health_file
from router.oauth.settings import OAuth2Settings
from router.oauth.settings import parse as parse_oauth2
from router.state import StoreLocation

CATEGORIES = ("security", "compliance", "general")
ROUTES = CATEGORIES + ("review", "quarantine", "automated")
EVIDENCE_KINDS = ("identity", "transactions", "activity_log", "source_of_funds")
SECURITY_MODES = ("ssl", "starttls", "none")
# The sections a [[mailboxes]] entry may override: its account and folder, its
# SMTP identity, where its mail is filed and forwarded, and how it replies.
MAILBOX_SECTIONS = ("imap", "smtp", "folders", "routes", "replies", "sender")
_MAILBOX_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


@dataclass(frozen=True)
class ServerSettings:
    host: str
    port: int
    security: str
    username: str
    password_file: Path | None
    password_env: str
    timeout: float
    oauth2: OAuth2Settings | None = None  # [imap.oauth2] / [smtp.oauth2]: log in with a bearer token

    def password(self) -> str:
        """Read the password now (never stored in the config object)."""
        if self.password_file is not None:
            try:
                return self.password_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"password_file {self.password_file}: {exc.strerror}") from None
        if self.password_env and self.password_env in os.environ:
            return os.environ[self.password_env]
        return ""


@dataclass(frozen=True)
class ImapSettings(ServerSettings):
    folder: str = "INBOX"
    batch_size: int = 50
    idle: bool = True
    idle_renew_seconds: int = 1740
    poll_interval_seconds: float = 60
    move_fallback_keyword: str = "$RouterDone"
    once_retries: int = 4


@dataclass(frozen=True)
class SmtpSettings(ServerSettings):
    from_address: str = ""
    retry_base_seconds: float = 30
    retry_max_seconds: float = 3600


@dataclass(frozen=True)
class IssueType:
    id: str
    category: str
    priority: str
    evidence: tuple[str, ...]
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class Limits:
    max_message_bytes: int
    max_attachment_bytes: int
    max_parts: int
    max_depth: int
    max_archive_members: int
    max_archive_uncompressed_bytes: int
    max_archive_ratio: int
    max_text_chars: int


@dataclass(frozen=True)
class ReplySettings:
    enabled: bool
    templates: Path | None
    response_time: str
    per_sender_per_hour: int
    per_sender_per_day: int


@dataclass(frozen=True)
class TeamSettings:
    """What the teams receive (issue 13): explorer links, urgency thresholds, official domains."""

    explorers: Mapping[str, Mapping[str, str]]  # chain (or family) -> {"tx": url, "address": url}
    thresholds: Mapping[str, Decimal]  # currency -> amount at or above which a case is high
    official_domains: tuple[str, ...]
    extra_shorteners: frozenset[str]  # added to phishing.DEFAULT_SHORTENERS


@dataclass(frozen=True)
class SlaSettings:
    """The SLA clock: hours to answer per priority, when a chaser escalates, and to whom."""

    hours: Mapping[str, float]  # priority -> hours from received to due
    security_urgent_hours: float  # urgent cases of the security team: sooner
    near_share: float  # share of the SLA after which an open case is "near" due
    escalation_share: float  # a chaser after this share of the SLA escalates
    escalation_address: str

    def window_hours(self, priority: str, route: str) -> float:
        """The SLA of a case of this priority on this route, in hours."""
        if priority == "urgent" and route == "security":
            return min(self.security_urgent_hours, self.hours["urgent"])
        return self.hours[priority]


@dataclass(frozen=True)
class Settings:
    source: Path | None
    imap: ImapSettings
    smtp: SmtpSettings
    routes: dict[str, str]
    folders: dict[str, str]
    state_path: Path
    model_path: Path
    training_data: Path
    evaluation_data: tuple[Path, ...]
    metrics_listen: str
    healthz_max_age_seconds: float
    uid_pattern: str
    issue_types: tuple[IssueType, ...]
    limits: Limits
    own_addresses: tuple[str, ...]
    loop_header: str
    require_recipient: bool
    replies: ReplySettings
    teams: TeamSettings = field(default_factory=lambda: _default_teams())
    sla: SlaSettings = field(default_factory=lambda: _default_sla())
    raw: dict[str, Any] = field(repr=False, default_factory=dict)
    state_location: StoreLocation | None = None
    triage_workers: int = 0  # [model] workers: triage processes; 0 = one per core, 1 = in-process

    def store(self) -> StoreLocation:
        """Where the state lives: `[state] url` (PostgreSQL) or `[state] path` (SQLite)."""
        return self.state_location or StoreLocation(self.state_path)
    name: str = DEFAULT_MAILBOX  # the mailbox's name in logs, status and metrics
    mailboxes: tuple[Settings, ...] = ()  # the [[mailboxes]] entries, each complete

    def served(self) -> tuple[Settings, ...]:
        """The mailboxes `router run` serves: the [[mailboxes]], else this one."""
        return self.mailboxes or (self,)

    def routing(self) -> Routing:
        """What a route means: the team address to forward to and the folder to file in."""
        return Routing(self.routes, self.folders)

    def mailbox_key(self) -> str:
        """The watched mailbox, as the state store keys its messages."""
        s = self.imap
        return f"{s.username}@{s.host}:{s.port}/{s.folder}"

    def issue_type(self, type_id: str | None) -> IssueType | None:
        for it in self.issue_types:
            if it.id == type_id:
                return it
        return None


def default_text() -> str:
    return resources.files("router").joinpath("defaults.toml").read_text(encoding="utf-8")


def find_config_path(explicit: str | None) -> Path | None:
    """--config, then ROUTER_CONFIG, then ./config.toml, else None (defaults)."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("ROUTER_CONFIG")
    if env:
        return Path(env)
    local = Path("config.toml")
    return local if local.is_file() else None


def load(path: str | Path | None = None, *, search: bool = True) -> Settings:
    """Load and validate settings; `path` None searches the usual places."""
    chosen = find_config_path(str(path) if path else None) if search else (Path(path) if path else None)
    user: dict[str, Any] = {}
    if chosen is not None:
        try:
            text = chosen.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"config file {chosen}: not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {chosen}: cannot read ({exc})") from None
        try:
            user = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {chosen}: invalid TOML: {exc}") from None
    entries = user.pop("mailboxes", [])
    merged = _merge(tomllib.loads(default_text()), user)
    base = chosen.resolve().parent if chosen is not None else _default_base()
    settings = _build(merged, base, chosen)
    if entries:
        settings = replace(settings, mailboxes=_mailboxes(entries, merged, base, chosen))
    return settings


def _mailboxes(entries: Any, merged: dict[str, Any], base: Path, source: Path | None) -> tuple[Settings, ...]:
    """Each [[mailboxes]] entry: the top-level settings with its own sections laid over them."""
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError("mailboxes: must be an array of tables ([[mailboxes]])")
    out: list[Settings] = []
    for i, entry in enumerate(entries):
        name = entry.get("name")
        if not isinstance(name, str) or not _MAILBOX_NAME.fullmatch(name):
            raise ConfigError(f"mailboxes[{i}].name: must be lower-case letters, digits, '-' or '_' (at most 63), got {name!r}")
        if name == DEFAULT_MAILBOX:
            raise ConfigError(f"mailboxes[{name}].name: {DEFAULT_MAILBOX!r} is reserved for a config without [[mailboxes]]")
        if any(m.name == name for m in out):
            raise ConfigError(f"mailboxes[{name}].name: used twice")
        data = copy.deepcopy(merged)
        for section, values in entry.items():
            if section == "name":
                continue
            if section not in MAILBOX_SECTIONS:
                raise ConfigError(f"mailboxes[{name}].{section}: unknown key (a mailbox may set {', '.join(MAILBOX_SECTIONS)})")
            _overlay(data[section], values, f"mailboxes[{name}].{section}")
        try:
            mailbox = replace(_build(data, base, source), name=name)
        except ConfigError as exc:
            raise ConfigError(f"mailboxes[{name}].{exc}") from None
        for other in out:
            if other.mailbox_key() == mailbox.mailbox_key():
                raise ConfigError(f"mailboxes[{name}]: watches the same mailbox as mailboxes[{other.name}] ({mailbox.mailbox_key()})")
        out.append(mailbox)
    return tuple(out)


def _overlay(target: dict[str, Any], values: Any, where: str) -> None:
    """Lay one mailbox's table over the top-level one, key by key."""
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: must be a table")
    for key, value in values.items():
        if key == "password" and where.endswith((".imap", ".smtp")):
            raise ConfigError(f"{where}.password: passwords are not read from the config; use password_file or password_env")
        if key not in target:
            raise ConfigError(f"{where}.{key}: unknown key")
        if isinstance(target[key], dict):
            _overlay(target[key], value, f"{where}.{key}")
        else:
            target[key] = value


def _default_base() -> Path:
    """Where relative default paths point when no config file is used.

    The current directory, unless it holds no model while the checkout this
    package runs from does: then `router triage` anywhere uses the shipped
    model, as the shipped config.toml would.
    """
    cwd = Path.cwd()
    checkout = Path(__file__).resolve().parents[1]
    if not (cwd / "models" / "current.joblib").exists() and (checkout / "models" / "current.joblib").exists():
        return checkout
    return cwd


def _merge(defaults: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
    """Overlay user sections on defaults; a user [issue_types] replaces the table."""
    unknown = sorted(set(user) - set(defaults))
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown section")
    merged = {k: dict(v) if isinstance(v, dict) else v for k, v in defaults.items()}
    for section, values in user.items():
        if not isinstance(values, dict):
            raise ConfigError(f"{section}: must be a table")
        if section == "issue_types":
            merged[section] = dict(values)
            continue
        if section == "entities" and isinstance(values.get("explorers"), dict):
            # per chain: a user's [entities.explorers.<chain>] adds or replaces that chain only
            values = {**values, "explorers": {**defaults[section].get("explorers", {}), **values["explorers"]}}
        for key, value in values.items():
            if key == "password" and section in ("imap", "smtp"):
                raise ConfigError(f"{section}.password: passwords are not read from the config; use password_file or password_env")
            if key not in defaults[section]:
                raise ConfigError(f"{section}.{key}: unknown key")
            merged[section][key] = value
    return merged


class _Reader:
    """Typed access to one section, with errors that name the key."""

    def __init__(self, data: dict[str, Any], section: str, base: Path) -> None:
        self.data, self.section, self.base = data, section, base

    def _get(self, key: str) -> Any:
        return self.data[key]

    def _fail(self, key: str, why: str) -> ConfigError:
        return ConfigError(f"{self.section}.{key}: {why}")

    def text(self, key: str, choices: tuple[str, ...] | None = None) -> str:
        value = self._get(key)
        if not isinstance(value, str):
            raise self._fail(key, f"must be a string, got {type(value).__name__}")
        if choices and value not in choices:
            raise self._fail(key, f"must be one of {', '.join(choices)}, got {value!r}")
        return value

    def integer(self, key: str, low: int = 0, high: int | None = None) -> int:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(key, f"must be an integer, got {value!r}")
        if value < low or (high is not None and value > high):
            raise self._fail(key, f"must be between {low} and {high if high is not None else 'infinity'}, got {value}")
        return value

    def num(self, key: str, low: float = 0) -> float:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._fail(key, f"must be a number, got {value!r}")
        if value < low:
            raise self._fail(key, f"must be at least {low}, got {value}")
        return float(value)

    def flag(self, key: str) -> bool:
        value = self._get(key)
        if not isinstance(value, bool):
            raise self._fail(key, f"must be true or false, got {value!r}")
        return value

    def path(self, key: str) -> Path:
        found = self.optional_path(key)
        if found is None:
            raise self._fail(key, "must not be empty")
        return found

    def optional_path(self, key: str) -> Path | None:
        value = self.text(key)
        if not value:
            return None
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base / p

    def address(self, key: str) -> str:
        value = self.text(key)
        if not _ADDRESS.fullmatch(value):
            raise self._fail(key, f"is not an e-mail address: {value!r}")
        return value

    def strlist(self, key: str) -> tuple[str, ...]:
        value = self._get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._fail(key, "must be a list of strings")
        return tuple(value)


_ADDRESS = re.compile(r"[^@\s<>\"]+@[^@\s<>\"]+")


def _server(r: _Reader, health: Path | None = None) -> dict[str, Any]:
    return dict(
        host=r.text("host") or _raise(r._fail("host", "must not be empty")),
        port=r.integer("port", 1, 65535),
        security=r.text("security", SECURITY_MODES),
        username=r.text("username"),
        password_file=r.optional_path("password_file"),
        password_env=r.text("password_env"),
        timeout=r.num("timeout", 1),
        oauth2=parse_oauth2(r.data.get("oauth2"), f"{r.section}.oauth2", r.base, health),
    )


def _login_health_file(d: dict[str, Any], base: Path) -> Path | None:
    """Where login health goes for `router status`: next to the state store."""
    state = _Reader(d["state"], "state", base).path("path")
    return health_file(state) if state is not None else None


def _raise(exc: Exception) -> Any:
    raise exc


def _build(d: dict[str, Any], base: Path, source: Path | None) -> Settings:
    imap_r = _Reader(d["imap"], "imap", base)
    imap = ImapSettings(
        **_server(imap_r, _login_health_file(d, base)),
        folder=imap_r.text("folder") or _raise(imap_r._fail("folder", "must not be empty")),
        batch_size=imap_r.integer("batch_size", 1, 1000),
        idle=imap_r.flag("idle"),
        idle_renew_seconds=imap_r.integer("idle_renew_seconds", 10, 1740),
        poll_interval_seconds=imap_r.num("poll_interval_seconds", 0.1),
        move_fallback_keyword=imap_r.text("move_fallback_keyword"),
        once_retries=imap_r.integer("once_retries", 0, 100),
    )
    smtp_r = _Reader(d["smtp"], "smtp", base)
    smtp = SmtpSettings(
        **_server(smtp_r, _login_health_file(d, base)),
        from_address=smtp_r.address("from_address"),
        retry_base_seconds=smtp_r.num("retry_base_seconds", 0),
        retry_max_seconds=smtp_r.num("retry_max_seconds", 0),
    )
    routes_r = _Reader(d["routes"], "routes", base)
    routes = {k: routes_r.address(k) for k in ("security", "compliance", "general", "review")}
    folders_r = _Reader(d["folders"], "folders", base)
    folders = {}
    for key in d["folders"]:
        folders[key] = folders_r.text(key) or _raise(folders_r._fail(key, "must not be empty"))
    state_r = _Reader(d["state"], "state", base)
    model_r = _Reader(d["model"], "model", base)
    metrics_r = _Reader(d["metrics"], "metrics", base)
    listen = metrics_r.text("listen")
    if listen and not re.fullmatch(r"[\w.\-\[\]:]+:\d{1,5}", listen):
        raise metrics_r._fail("listen", f"must be HOST:PORT or empty, got {listen!r}")
    subject_r = _Reader(d["subject"], "subject", base)
    uid_pattern = subject_r.text("uid_pattern")
    try:
        re.compile(uid_pattern)
    except re.error as exc:
        raise subject_r._fail("uid_pattern", f"invalid regular expression: {exc}") from None
    limits_r = _Reader(d["limits"], "limits", base)
    limits = Limits(**{k: limits_r.integer(k, 1) for k in d["limits"]})
    sender_r = _Reader(d["sender"], "sender", base)
    replies_r = _Reader(d["replies"], "replies", base)
    replies = ReplySettings(
        enabled=replies_r.flag("enabled"),
        templates=replies_r.optional_path("templates"),
        response_time=replies_r.text("response_time"),
        per_sender_per_hour=replies_r.integer("per_sender_per_hour", 0),
        per_sender_per_day=replies_r.integer("per_sender_per_day", 0),
    )
    eval_paths = []
    for i, p in enumerate(model_r.strlist("evaluation_data")):
        q = Path(p).expanduser()
        eval_paths.append(q if q.is_absolute() else base / q)
    return Settings(
        source=source,
        imap=imap,
        smtp=smtp,
        routes=routes,
        folders=folders,
        state_path=state_r.path("path"),
        state_location=StoreLocation(
            path=state_r.path("path"),
            url=_state_url(state_r),
            password_file=state_r.optional_path("password_file"),
            password_env=state_r.text("password_env"),
            lease_seconds=state_r.num("lease_seconds", 1),
        ),
        model_path=model_r.path("path"),
        training_data=model_r.path("training_data"),
        evaluation_data=tuple(eval_paths),
        metrics_listen=listen,
        healthz_max_age_seconds=metrics_r.num("healthz_max_age_seconds", 1),
        uid_pattern=uid_pattern,
        issue_types=_issue_types(d["issue_types"]),
        limits=limits,
        own_addresses=tuple(a.lower() for a in sender_r.strlist("own_addresses")),
        loop_header=sender_r.text("loop_header"),
        require_recipient=sender_r.flag("require_recipient"),
        replies=replies,
        teams=_teams(d, base),
        sla=_sla(d, base),
        raw=d,
        triage_workers=model_r.integer("workers", 0, 64),
    )


PRIORITIES = ("low", "normal", "high", "urgent")


def _teams(d: dict[str, Any], base: Path) -> TeamSettings:
    ent_r, urg_r, ph_r = (_Reader(d[k], k, base) for k in ("entities", "urgency", "phishing"))
    explorers: dict[str, dict[str, str]] = {}
    for chain, spec in (ent_r._get("explorers") or {}).items():
        if not isinstance(spec, dict) or set(spec) - {"tx", "address"}:
            raise ent_r._fail(f"explorers.{chain}", "must be a table with tx and/or address URL templates")
        for kind, url in spec.items():
            if not isinstance(url, str) or not url.startswith(("https://", "http://")) or "{value}" not in url:
                raise ent_r._fail(f"explorers.{chain}.{kind}", "must be an http(s) URL with {value} in it")
        explorers[chain] = dict(spec)
    thresholds: dict[str, Decimal] = {}
    for cur, value in (urg_r._get("thresholds") or {}).items():
        try:
            thresholds[str(cur).upper()] = Decimal(str(value))
        except InvalidOperation:
            raise urg_r._fail(f"thresholds.{cur}", f"must be a number, got {value!r}") from None
    official = tuple(x.lower().strip(".") for x in ph_r.strlist("official_domains"))
    if not official:
        raise ph_r._fail("official_domains", "must name at least one domain")
    extra = frozenset(x.lower() for x in ph_r.strlist("extra_shorteners"))
    return TeamSettings(explorers, thresholds, official, extra)


def _sla(d: dict[str, Any], base: Path) -> SlaSettings:
    r = _Reader(d["sla"], "sla", base)
    hours = {p: r.num(f"{p}_hours", 0) for p in PRIORITIES}
    share = r.num("escalation_share", 0)
    near = r.num("near_share", 0)
    if share > 1 or near > 1:
        raise r._fail("escalation_share" if share > 1 else "near_share", "must be a share between 0 and 1")
    return SlaSettings(hours, r.num("security_urgent_hours", 0), near, share, r.address("escalation_address"))


def _default_teams() -> TeamSettings:
    return _teams(tomllib.loads(default_text()), Path("."))


def _default_sla() -> SlaSettings:
    return _sla(tomllib.loads(default_text()), Path("."))


def _issue_types(table: dict[str, Any]) -> tuple[IssueType, ...]:
    out = []
    for type_id, spec in table.items():
        key = f"issue_types.{type_id}"
        if not re.fullmatch(r"[a-z][a-z0-9_]*", type_id):
            raise ConfigError(f"{key}: type id must be lower_snake_case")
        if not isinstance(spec, dict):
            raise ConfigError(f"{key}: must be a table")
        r = _Reader(spec, key, Path("."))
        for required in ("category", "aliases"):
            if required not in spec:
                raise ConfigError(f"{key}.{required}: missing")
        spec.setdefault("priority", "normal")
        spec.setdefault("evidence", [])
        evidence = r.strlist("evidence")
        for kind in evidence:
            if kind not in EVIDENCE_KINDS:
                raise ConfigError(f"{key}.evidence: unknown kind {kind!r} (known: {', '.join(EVIDENCE_KINDS)})")
        aliases = r.strlist("aliases")
        if not aliases:
            raise ConfigError(f"{key}.aliases: must name at least one alias")
        out.append(
            IssueType(
                id=type_id,
                category=r.text("category", CATEGORIES),
                priority=r.text("priority", ("low", "normal", "high", "urgent")),
                evidence=evidence,
                aliases=aliases,
            )
        )
    return tuple(out)


def _state_url(r: _Reader) -> str:
    """`[state] url`: empty (SQLite) or postgresql://user@host:port/db, never with a password in it."""
    url = r.text("url")
    if not url:
        return url
    if not re.match(r"postgres(ql)?://", url):
        raise r._fail("url", f"must start with postgresql://, got {url.split(':', 1)[0]}:...")
    userinfo = url.split("://", 1)[1].split("@", 1)[0] if "@" in url else ""
    if ":" in userinfo:
        raise r._fail("url", "must not contain a password (use password_file or password_env)")
    return url
