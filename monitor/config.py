"""Configuration: load TOML once, validate everything, return frozen objects.

Precedence (STYLE.md 19): CLI flag > ``MONITOR_<SECTION>_<KEY>`` environment
variable > config file > default in code.  Every problem in every file is
collected with its key path and reported together as one `ConfigError`, before
any network access.  After `load_config` no module reads TOML or the environment.

Relative paths in ``monitor.toml`` are resolved against the directory that holds
``monitor.toml``, so cron jobs do not depend on the working directory.  Paths from
the command line or the environment are relative to the current directory, as for
every Unix tool.  Unless ``digest.output_dir`` is set, digests are written beside
the database (``<db folder>/digests``), so a test database never overwrites the
real archive (issue #10).
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import os
import re
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .countries import is_country, suggest_country
from .exceptions import ConfigError
from .models import FeedSpec
from .proxyspec import EnvironmentProxies, parse_proxy, split_credentials

logger = logging.getLogger(__name__)

ENV_PREFIX = "MONITOR_"
DEFAULT_CONFIG_DIR = Path("config")
USER_AGENT = (
    "monitor/0.1 (press monitor; +https://example.org/monitor; set fetch.user_agent)"
)
LANG_RE = re.compile(r"^[a-z]{2,3}$")
# What a ``[translate.routes]`` value may name (monitor.translate._routes).
MODEL_FAMILIES = ("nllb", "m2m100", "opus-mt")
ROUTE_KINDS = ("argos", *MODEL_FAMILIES, "none")


@dataclass(frozen=True, kw_only=True)
class StoreConfig:
    path: Path = Path("../var/monitor.db")
    # A PostgreSQL database instead of the SQLite file (issue #13), e.g.
    # "postgresql://monitor@db.internal/monitor"; no password here (STYLE.md 20):
    # libpq reads PGPASSWORD or ~/.pgpass.
    url: str | None = None
    # PostgreSQL: a statement whose connection broke (a server restart) is tried
    # again on fresh connections for this many seconds before the run stops.
    reconnect_for: float = 30.0
    lock_path: Path | None = (
        None  # default: <db>.lock (flock: released if the holder dies)
    )
    # Prune articles first seen more than this many days ago (issue #19:
    # `monitor prune`, and a bounded share at the end of each `monitor run`);
    # 0 keeps everything.
    keep_days: int = 0


@dataclass(frozen=True, kw_only=True)
class FetchConfig:
    user_agent: str = USER_AGENT
    timeout: float = 20.0  # seconds per read/connect; total per response below
    total_timeout: float = 60.0  # a body that never ends is cut off after this
    max_feed_bytes: int = 10_000_000
    max_page_bytes: int = 5_000_000
    max_redirects: int = 5
    per_host_concurrency: int = 2
    per_host_delay: float = 1.0  # minimum seconds between requests to one host
    workers: int = 8  # network calls in flight overall
    allow_private: bool = False  # allow loopback/private addresses for every feed
    # "" / "none": direct; http://, socks5:// or socks5h:// host:port (issue #20)
    proxy: str = ""
    # credentials only from MONITOR_FETCH_PROXY_USERNAME / _PASSWORD, never TOML
    proxy_username: str = field(default="", repr=False)
    proxy_password: str = field(default="", repr=False)
    # honour HTTPS_PROXY / HTTP_PROXY / ALL_PROXY / NO_PROXY (corporate networks)
    use_environment_proxies: bool = False
    # through a socks5h:// (Tor) proxy: at least these timeouts (circuits are slow)
    remote_dns_timeout: float = 60.0
    remote_dns_total_timeout: float = 180.0
    max_articles_per_run: int = 500
    max_attempts: int = 3  # page: fall back to feed text; article: parked (#11)


@dataclass(frozen=True, kw_only=True)
class PollConfig:
    min_interval: float = 15 * 60  # seconds between polls of the same feed
    max_backoff: float = 24 * 3600  # cap on failure backoff
    # a feed served by a mirror tries its primary URL again after this (issue #20)
    retry_primary_after: float = 6 * 3600


@dataclass(frozen=True, kw_only=True)
class ExtractConfig:
    min_chars: int = 400  # page text shorter than this falls back to feed content
    teaser_chars: int = 600  # final text shorter than this (from a summary) is a teaser


@dataclass(frozen=True, kw_only=True)
class TranslateConfig:
    backend: Literal["argos", "libretranslate", "none"] = "argos"
    target: str = "en"
    models_dir: Path = Path("../var/models")
    cache: bool = True
    cache_days: int = 180  # cached sentences older than this are dropped; 0 keeps all
    threads: int = 2
    device: Literal["auto", "cpu", "cuda"] = "auto"
    compute_type: str = "int8"
    beam_size: int = 2
    batch_size: int = 32  # sentences per CTranslate2 call
    max_sentence_chars: int = 1000
    libretranslate_url: str = "http://127.0.0.1:5000"
    libretranslate_api_key_env: str = "MONITOR_LIBRETRANSLATE_KEY"
    timeout: float = 120.0
    max_articles_per_run: int = 1000
    # Source language (or "*") -> "argos", a model family or "FAMILY:NAME", or
    # "none" (issue #18; monitor.translate._routes).  Unrouted: Argos, then
    # NLLB, M2M100, OPUS-MT, whichever has the pair.
    routes: Mapping[str, str] = field(default_factory=dict)
    # Argos package index, used only by `monitor models install SRC DST`.
    index_url: str = (
        "https://raw.githubusercontent.com/argosopentech/argospm-index/main/index.json"
    )


@dataclass(frozen=True, kw_only=True)
class ClassifyConfig:
    topics_file: Path = Path("topics.toml")


@dataclass(frozen=True, kw_only=True)
class StoriesConfig:
    window_hours: float = 72.0  # candidates for a story are this close in time
    near_duplicate_threshold: float = 0.5  # MinHash Jaccard estimate (docs/stories.md)
    story_threshold: float = 0.35  # cross-lingual similarity to join a story
    num_perm: int = 128
    shingle_size: int = 3
    # Story features (~2.5-4 KB an article) are kept this many days beyond the
    # window; `monitor run` drops older ones (issue #19; docs/stories.md).
    keep_features_days: int = 30


@dataclass(frozen=True, kw_only=True)
class Recipient:
    address: str
    topics: tuple[str, ...] = ()  # empty: every topic
    name: str = ""


@dataclass(frozen=True, kw_only=True)
class MailConfig:
    enabled: bool = False
    host: str = "localhost"
    port: int = 587
    security: Literal["starttls", "ssl", "none"] = "starttls"
    sender: str = "monitor@localhost"
    username_env: str = (
        "MONITOR_SMTP_USER"  # credentials come from the environment only
    )
    password_env: str = "MONITOR_SMTP_PASSWORD"
    timeout: float = 30.0
    recipients: tuple[Recipient, ...] = ()


@dataclass(frozen=True, kw_only=True)
class DigestConfig:
    timezone: str = "Asia/Almaty"
    output_dir: Path = Path("../var/digests")
    formats: tuple[str, ...] = (
        "html",
        "txt",
        "md",
        "json",
        "atom",
    )  # json always written
    title: str = "Central Asia press digest"
    lede_sentences: int = 3
    lede_max_chars: int = 420  # longer ledes are cut at a word boundary with "…"
    silent_feed_hours: float = 48.0
    due_hour: int = (
        6  # `monitor run` writes yesterday's digest once local time passes this
    )
    # after downtime, missed days before the latest due one that are still written
    catch_up_days: int = 3
    max_stories_per_topic: int = 50
    top_stories: int = 5  # "Top stories" shown first (most outlets); 0: no such section
    atom_entries: int = 30
    base_url: str = ""  # where the archive is published, for Atom links (optional)


@dataclass(frozen=True, kw_only=True)
class ServeConfig:
    """`monitor serve` (issue #15): the read-only web workbench."""

    host: str = "127.0.0.1"
    port: int = 8040
    # HTTP basic credential, required for any host but 127.0.0.1 / localhost / ::1.
    user: str = ""
    password_env: str = "MONITOR_SERVE_PASSWORD"  # the password's environment variable


@dataclass(frozen=True, kw_only=True)
class QueueConfig:
    # Workers on a task queue (issue #13 part 3); PostgreSQL stores only.
    enabled: bool = False


@dataclass(frozen=True, kw_only=True)
class AlertsConfig:
    """Alerts between digests (issue #16; docs/alerts.md)."""

    watches_file: Path = Path("watches.toml")  # more [[watch]] tables (optional file)
    lookback_hours: float = 48.0  # stories that grew this recently are evaluated
    timezone: str = ""  # for quiet_hours; default: digest.timezone
    webhook_timeout: float = 10.0  # seconds per webhook POST (connect, read, total)
    webhook_attempts: int = 3  # POSTs per alert and run, with back-off between them
    webhook_backoff: float = 1.0  # seconds before the 2nd POST, doubled after
    max_failures: int = 5  # failed sends (over runs) before an alert is given up
    atom_entries: int = 50  # entries kept in each watch's Atom file
    # Bursts (docs/alerts.md "Bursts"; measured by bench/alerts_bursts.py)
    burst_hours: float = 2.0  # story burst: new outlets counted over this window
    burst_outlets_per_hour: float = 2.5  # ... at least this many per hour
    burst_min_outlets: int = 5  # ... and at least this many outlets in all
    volume_hours: int = 3  # volume burst: articles of a topic/country in this window
    volume_baseline_days: int = 28  # ... against its hourly counts over these days
    volume_min_z: float = 4.0  # ... at least this many standard deviations above
    volume_min_count: int = 5  # ... and at least this many articles


@dataclass(frozen=True, kw_only=True)
class WatchConfig:
    """One ``[[watch]]`` table: what to look for and whom to tell (issue #16)."""

    name: str
    query: str = ""  # topic rule language (docs/topics.md); all given filters must hold
    topic: str = ""  # a topic id or heading from topics.toml
    country: str = ""  # a country id from topics.toml
    notify: tuple[str, ...]  # mailto:ADDRESS, http(s)://webhook, atom:PATH
    min_outlets: int = 1  # first alert when the story reaches this many outlets
    follow_up: tuple[int, ...] = ()  # outlet counts that send a follow-up (e.g. [10])
    quiet_hours: str = ""  # "22:00-07:00" local: alerts wait until it ends
    allow_private: bool = False  # allow a webhook on a loopback/private address
    bursts: bool = False  # also alert (once) when a matching story spreads fast
    enabled: bool = True


@dataclass(frozen=True, kw_only=True)
class Config:
    config_dir: Path = DEFAULT_CONFIG_DIR
    store: StoreConfig = field(default_factory=StoreConfig)
    fetch: FetchConfig = field(default_factory=FetchConfig)
    poll: PollConfig = field(default_factory=PollConfig)
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    translate: TranslateConfig = field(default_factory=TranslateConfig)
    classify: ClassifyConfig = field(default_factory=ClassifyConfig)
    stories: StoriesConfig = field(default_factory=StoriesConfig)
    digest: DigestConfig = field(default_factory=DigestConfig)
    mail: MailConfig = field(default_factory=MailConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    queue: QueueConfig = field(default_factory=QueueConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    watches: tuple[WatchConfig, ...] = ()
    feeds: tuple[FeedSpec, ...] = ()
    feeds_file: Path = Path("feeds.toml")
    topics: Mapping[str, Any] = field(default_factory=dict)  # raw; compiled by classify
    # HTTPS_PROXY & co., read only with fetch.use_environment_proxies (issue #20)
    environment_proxies: EnvironmentProxies | None = None

    def source_kinds(self) -> dict[str, str]:
        """Each enabled source's name -> its kind (feed, telegram, sitemap, page)."""
        return {f.name: f.kind for f in self.feeds if f.enabled}


SECTIONS: tuple[str, ...] = (
    "store",
    "fetch",
    "poll",
    "extract",
    "translate",
    "classify",
    "stories",
    "digest",
    "mail",
    "serve",
    "queue",
    "alerts",
)
TOP_LEVEL_KEYS = (*SECTIONS, "feeds_file", "watch")


# --------------------------------------------------------------------------- loading


def load_config(
    config_dir: Path | str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    rule_validator: Callable[[Mapping[str, Any]], list[str]] | None = None,
    watch_validator: WatchValidator | None = None,
) -> Config:
    """Load and validate ``monitor.toml``, ``feeds.toml`` and the topics file.

    Args:
        config_dir: folder holding ``monitor.toml`` (default ``./config``).
        env: environment to read ``MONITOR_*`` overrides from (default os.environ).
        overrides: dotted keys from CLI flags, e.g. ``{"store.path": "x.db"}``.
        rule_validator: checks the raw topics table; returns error strings.
        watch_validator: checks the watches against the raw topics table
            (queries, topic and country names); returns error strings.

    Raises:
        ConfigError: listing every problem found, each with its key path.
    """
    env = os.environ if env is None else env
    cdir = Path(config_dir or env.get(f"{ENV_PREFIX}CONFIG") or DEFAULT_CONFIG_DIR)
    errors: list[str] = []
    data = _read_toml(cdir / "monitor.toml", errors, required=False)
    _refuse_file_secrets(data, errors)
    _merge(data, _env_overrides(env, errors))
    _merge(data, _dotted(overrides or {}))
    cfg = _build_config(cdir, data, errors)
    cfg = _digests_beside_db(cfg, data)
    _warn_unknown_env(env, cfg)
    feeds_raw = _read_toml(_resolve(cdir, cfg.feeds_file), errors, required=True)
    feeds = _build_feeds(feeds_raw, errors, f"{cfg.feeds_file}")
    _check_feed_proxies(cfg, feeds, errors)
    env_proxies = _environment_proxies(cfg, env, errors)
    topics_path = _resolve(cdir, cfg.classify.topics_file)
    topics = _read_toml(topics_path, errors, required=True)
    if rule_validator is not None and topics_path.exists():
        errors.extend(
            f"{cfg.classify.topics_file}: {e}" for e in rule_validator(topics)
        )
    watches = _load_watches(cdir, cfg, data, errors)
    if watch_validator is not None and watches:
        errors.extend(watch_validator(watches, topics))
    if errors:
        raise ConfigError(errors)
    return dataclasses.replace(
        cfg,
        feeds=feeds,
        topics=topics,
        watches=watches,
        environment_proxies=env_proxies,
    )


def _environment_proxies(
    cfg: Config, env: Mapping[str, str], errors: list[str]
) -> EnvironmentProxies | None:
    """HTTPS_PROXY & co. (either case, as curl reads them), when asked for."""
    if not cfg.fetch.use_environment_proxies:
        return None

    def get(name: str) -> str:
        return env.get(name) or env.get(name.lower()) or ""

    found = EnvironmentProxies(
        http=get("HTTP_PROXY"),
        https=get("HTTPS_PROXY"),
        all=get("ALL_PROXY"),
        no_proxy=get("NO_PROXY"),
    )
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        value = get(name)
        bare = split_credentials(value)[0] if value else ""
        try:
            parse_proxy(bare if "://" in bare or not bare else f"http://{bare}")
        except ValueError as e:  # the message never repeats credentials
            errors.append(f"fetch.use_environment_proxies: {name}: {e}")
    return found


def _check_feed_proxies(
    cfg: Config, feeds: tuple[FeedSpec, ...], errors: list[str]
) -> None:
    """``isolate`` needs a SOCKS proxy: the feed's own or the global one."""
    for spec in feeds:
        if not spec.isolate:
            continue
        try:
            proxy = parse_proxy(cfg.fetch.proxy if spec.proxy is None else spec.proxy)
        except ValueError:
            continue  # reported already
        if proxy is None or not proxy.scheme.startswith("socks"):
            errors.append(
                f"{cfg.feeds_file}: feed {spec.name!r}.isolate: needs a socks5:// or"
                " socks5h:// proxy (the feed's `proxy` or fetch.proxy)"
            )


ENV_ONLY_KEYS = ("fetch.proxy_username", "fetch.proxy_password")


def _refuse_file_secrets(data: Mapping[str, Any], errors: list[str]) -> None:
    """Proxy credentials come from the environment only (issue #20)."""
    for dotted in ENV_ONLY_KEYS:
        section, key = dotted.split(".")
        table = data.get(section)
        if isinstance(table, dict) and key in table:
            env = f"{ENV_PREFIX}{section.upper()}_{key.upper()}"
            errors.append(f"{dotted}: not allowed in a file; set {env} instead")


def resolve_path(cfg: Config, path: Path) -> Path:
    """Resolve a configured path against the config folder."""
    return _resolve(cfg.config_dir, path)


def _digests_beside_db(cfg: Config, data: Mapping[str, Any]) -> Config:
    """Unless configured, the digest folder is ``digests`` beside the database."""
    digest_raw = data.get("digest")
    if isinstance(digest_raw, dict) and "output_dir" in digest_raw:
        return cfg
    out = resolve_path(cfg, cfg.store.path).parent / "digests"
    return dataclasses.replace(
        cfg, digest=dataclasses.replace(cfg.digest, output_dir=out)
    )


def _warn_unknown_env(env: Mapping[str, str], cfg: Config) -> None:
    """A misspelt ``MONITOR_*`` variable is ignored: say so, with a suggestion."""
    known = _known_env_names(cfg)
    for name in sorted(env):
        if name.startswith(ENV_PREFIX) and name not in known:
            logger.warning(
                "unknown environment variable %s ignored%s",
                name,
                _suggest(name, sorted(known)),
            )


def _known_env_names(cfg: Config) -> set[str]:
    """MONITOR_CONFIG, MONITOR_DB, MONITOR_<SECTION>_<KEY>, and the secrets'
    variables the config names (every ``*_env`` setting)."""
    known = {f"{ENV_PREFIX}CONFIG", f"{ENV_PREFIX}DB", f"{ENV_PREFIX}DATABASE_URL"}
    for section in SECTIONS:
        values = getattr(cfg, section)
        for f in dataclasses.fields(_section_class(section)):
            known.add(f"{ENV_PREFIX}{section}_{f.name}".upper())
            if f.name.endswith("_env") and isinstance(getattr(values, f.name), str):
                known.add(getattr(values, f.name))
    return known


def _resolve(base: Path, path: Path) -> Path:
    path = path.expanduser()
    return path if path.is_absolute() else (base / path).resolve()


def _read_toml(path: Path, errors: list[str], *, required: bool) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        if required:
            errors.append(f"{path}: file not found")
    except tomllib.TOMLDecodeError as e:
        errors.append(f"{path}: invalid TOML: {e}")
    except OSError as e:
        errors.append(f"{path}: cannot read: {e}")
    return {}


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def _dotted(flat: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for dotted, value in flat.items():
        if value is None:
            continue
        *parents, leaf = dotted.split(".")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


def _env_overrides(env: Mapping[str, str], errors: list[str]) -> dict[str, Any]:
    """``MONITOR_FETCH_TIMEOUT=5`` → ``{"fetch": {"timeout": "5"}}`` (coerced later)."""
    out: dict[str, Any] = {}
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or name == f"{ENV_PREFIX}CONFIG":
            continue
        rest = name[len(ENV_PREFIX) :].lower()
        if rest == "db":
            out.setdefault("store", {})["path"] = _EnvString(raw)
            continue
        if rest == "database_url":  # the usual name; MONITOR_STORE_URL also works
            out.setdefault("store", {})["url"] = _EnvString(raw)
            continue
        section = next((s for s in SECTIONS if rest.startswith(s + "_")), None)
        if section is None:
            continue  # not ours (e.g. MONITOR_SMTP_PASSWORD is read by mail at send time)
        key = rest[len(section) + 1 :]
        cls = _section_class(section)
        if key in {f.name for f in dataclasses.fields(cls)}:
            out.setdefault(section, {})[key] = _EnvString(raw)
    return out


WatchValidator = Callable[[tuple["WatchConfig", ...], Mapping[str, Any]], list[str]]


class _EnvString(str):
    """A value from the environment: coerced to the field's type, not type-checked."""


# --------------------------------------------------------------------------- validation


def _section_class(section: str) -> type:
    hints = typing.get_type_hints(Config)
    cls: type = hints[section]
    return cls


def _build_config(cdir: Path, data: Mapping[str, Any], errors: list[str]) -> Config:
    _check_unknown(data, TOP_LEVEL_KEYS, "", errors)
    kwargs: dict[str, Any] = {"config_dir": cdir.resolve()}
    for section in SECTIONS:
        raw = data.get(section, {})
        if not isinstance(raw, dict):
            errors.append(f"{section}: expected a table, got {type(raw).__name__}")
            continue
        kwargs[section] = _build_dataclass(
            _section_class(section), raw, section, errors
        )
    if "feeds_file" in data:
        kwargs["feeds_file"] = _coerce(Path, data["feeds_file"], "feeds_file", errors)
    cfg = Config(**{k: v for k, v in kwargs.items() if v is not None})
    _check_semantics(cfg, errors)
    return cfg


def _build_dataclass(
    cls: type, raw: Mapping[str, Any], path: str, errors: list[str]
) -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    _check_unknown(raw, names, path, errors)
    kwargs: dict[str, Any] = {}
    for name in names:
        if name not in raw:
            continue
        value = _coerce(hints[name], raw[name], f"{path}.{name}", errors)
        if value is not _INVALID:
            kwargs[name] = value
    missing = [
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
        and f.name not in kwargs
    ]
    for name in missing:
        if name in raw:
            return None  # already reported as invalid
        errors.append(f"{path}.{name}: required key is missing")
    return None if missing else cls(**kwargs)


_INVALID = object()


def _coerce(tp: Any, value: Any, path: str, errors: list[str]) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(inner, value, path, errors)
    if origin is Literal:
        if value in args:
            return value
        hint = _suggest(str(value), [str(a) for a in args])
        errors.append(
            f"{path}: {value!r} is not one of {', '.join(map(str, args))}{hint}"
        )
        return _INVALID
    if origin is tuple:
        return _coerce_tuple(args[0], value, path, errors)
    if origin in (dict, Mapping):
        return _coerce_mapping(args[1], value, path, errors)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, dict):
            errors.append(f"{path}: expected a table, got {type(value).__name__}")
            return _INVALID
        built = _build_dataclass(tp, value, path, errors)
        return _INVALID if built is None else built
    return _coerce_scalar(tp, value, path, errors)


def _coerce_tuple(item_tp: Any, value: Any, path: str, errors: list[str]) -> Any:
    if isinstance(value, _EnvString):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list):
        errors.append(f"{path}: expected a list, got {type(value).__name__}")
        return _INVALID
    items = [_coerce(item_tp, v, f"{path}[{i}]", errors) for i, v in enumerate(value)]
    return _INVALID if _INVALID in items else tuple(items)


def _coerce_mapping(value_tp: Any, value: Any, path: str, errors: list[str]) -> Any:
    """A TOML table of str keys (from the environment: ``"kk=nllb,ru=argos"``)."""
    if isinstance(value, _EnvString):
        pairs = [p.partition("=") for p in value.split(",") if p.strip()]
        if any(not sep for _, sep, _ in pairs):
            errors.append(f"{path} (from environment): expected KEY=VALUE,...")
            return _INVALID
        value = {k.strip(): _EnvString(v.strip()) for k, _, v in pairs}
    if not isinstance(value, dict):
        errors.append(f"{path}: expected a table, got {type(value).__name__}")
        return _INVALID
    items = {k: _coerce(value_tp, v, f"{path}.{k}", errors) for k, v in value.items()}
    return _INVALID if _INVALID in items.values() else items


def _coerce_scalar(tp: Any, value: Any, path: str, errors: list[str]) -> Any:
    if isinstance(value, _EnvString):
        return _coerce_env(tp, str(value), path, errors)
    if tp is bool and isinstance(value, bool):
        return value
    if tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if tp is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if tp is str and isinstance(value, str):
        return value
    if tp is Path and isinstance(value, str):
        return Path(value)
    want = getattr(tp, "__name__", str(tp))
    errors.append(f"{path}: expected {want}, got {type(value).__name__} {value!r}")
    return _INVALID


def _coerce_env(tp: Any, raw: str, path: str, errors: list[str]) -> Any:
    try:
        if tp is bool:
            if raw.lower() in {"1", "true", "yes", "on"}:
                return True
            if raw.lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError(raw)
        if tp is Path:  # from the environment: relative to the current directory
            return Path(raw).expanduser().absolute()
        if tp in (int, float, str):
            return tp(raw)
    except ValueError:
        pass
    want = getattr(tp, "__name__", str(tp))
    errors.append(f"{path} (from environment): cannot read {raw!r} as {want}")
    return _INVALID


def _check_unknown(
    raw: Mapping[str, Any], known: typing.Sequence[str], path: str, errors: list[str]
) -> None:
    for key in raw:
        if key not in known:
            where = f"{path}.{key}" if path else key
            errors.append(f"{where}: unknown key{_suggest(key, known)}")


def _suggest(word: str, choices: typing.Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


STORE_URL_SCHEMES = ("postgresql", "postgres")


def _check_store(cfg: Config, errors: list[str]) -> None:
    url = cfg.store.url
    if url is None:
        return
    scheme, sep, _ = url.partition("://")
    if not sep or scheme not in STORE_URL_SCHEMES:
        hint = _suggest(scheme, list(STORE_URL_SCHEMES)) if sep else ""
        errors.append(
            f"store.url: {url.split('@')[-1]!r} is not a PostgreSQL URL"
            f' ("postgresql://user@host/dbname"){hint}; leave it unset for SQLite'
        )


def _check_queue(cfg: Config, errors: list[str]) -> None:
    # The queue lives in PostgreSQL (procrastinate); an SQLite file cannot hold it.
    if cfg.queue.enabled and cfg.store.url is None:
        errors.append(
            "queue.enabled: needs a PostgreSQL store ([store] url ="
            ' "postgresql://..." or MONITOR_STORE_URL); this store is SQLite'
        )


def _check_semantics(cfg: Config, errors: list[str]) -> None:
    _check_store(cfg, errors)
    _check_queue(cfg, errors)
    positive = {
        "fetch.timeout": cfg.fetch.timeout,
        "fetch.total_timeout": cfg.fetch.total_timeout,
        "fetch.max_feed_bytes": cfg.fetch.max_feed_bytes,
        "fetch.max_page_bytes": cfg.fetch.max_page_bytes,
        "fetch.per_host_concurrency": cfg.fetch.per_host_concurrency,
        "fetch.workers": cfg.fetch.workers,
        "fetch.remote_dns_timeout": cfg.fetch.remote_dns_timeout,
        "fetch.remote_dns_total_timeout": cfg.fetch.remote_dns_total_timeout,
        "poll.retry_primary_after": cfg.poll.retry_primary_after,
        "translate.threads": cfg.translate.threads,
        "translate.batch_size": cfg.translate.batch_size,
        "translate.beam_size": cfg.translate.beam_size,
        "stories.num_perm": cfg.stories.num_perm,
    }
    for key, value in positive.items():
        if value <= 0:
            errors.append(f"{key}: must be greater than 0, got {value}")
    try:
        parse_proxy(cfg.fetch.proxy)
    except ValueError as e:
        errors.append(f"fetch.proxy: {e}")
    if cfg.store.reconnect_for < 0:
        errors.append(
            f"store.reconnect_for: must be >= 0, got {cfg.store.reconnect_for}"
        )
    if cfg.fetch.per_host_delay < 0:
        errors.append(
            f"fetch.per_host_delay: must be >= 0, got {cfg.fetch.per_host_delay}"
        )
    for key in ("near_duplicate_threshold", "story_threshold"):
        value = getattr(cfg.stories, key)
        if not 0 < value <= 1:
            errors.append(f"stories.{key}: must be in (0, 1], got {value}")
    try:
        ZoneInfo(cfg.digest.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        errors.append(f"digest.timezone: unknown time zone {cfg.digest.timezone!r}")
    bad = [f for f in cfg.digest.formats if f not in DIGEST_FORMATS]
    for f in bad:
        errors.append(
            f"digest.formats: unknown format {f!r}{_suggest(f, DIGEST_FORMATS)}"
        )
    if not 0 <= cfg.digest.due_hour <= 23:
        errors.append(f"digest.due_hour: must be 0..23, got {cfg.digest.due_hour}")
    if cfg.store.keep_days < 0:
        errors.append(
            f"store.keep_days: must be >= 0 (0 keeps everything),"
            f" got {cfg.store.keep_days}"
        )
    if cfg.stories.keep_features_days < 0:
        errors.append(
            f"stories.keep_features_days: must be >= 0 (days kept beyond the"
            f" story window), got {cfg.stories.keep_features_days}"
        )
    if cfg.translate.cache_days < 0:
        errors.append(
            f"translate.cache_days: must be >= 0 (0 keeps everything),"
            f" got {cfg.translate.cache_days}"
        )
    if cfg.digest.catch_up_days < 0:
        errors.append(
            f"digest.catch_up_days: must be >= 0, got {cfg.digest.catch_up_days}"
        )
    if cfg.digest.top_stories < 0:
        errors.append(
            f"digest.top_stories: must be >= 0 (0 turns it off),"
            f" got {cfg.digest.top_stories}"
        )
    if not LANG_RE.match(cfg.translate.target):
        errors.append(
            f"translate.target: {cfg.translate.target!r} is not a language code"
        )
    _check_routes(cfg.translate, errors)


def _check_routes(cfg: TranslateConfig, errors: list[str]) -> None:
    """``[translate.routes]``: language (or "*") -> argos / family[:NAME] / none."""
    if cfg.routes and cfg.backend != "argos":
        errors.append(
            f'translate.routes: used only with backend = "argos" (local models),'
            f" not {cfg.backend!r}"
        )
    for lang, value in cfg.routes.items():
        where = f"translate.routes.{lang}"
        if lang != "*" and not LANG_RE.match(lang):
            errors.append(f'{where}: {lang!r} is not a language code (or "*")')
        family, _, name = value.partition(":")
        if family not in ROUTE_KINDS:
            errors.append(
                f"{where}: {value!r} is not one of {', '.join(ROUTE_KINDS)}"
                f" or FAMILY:NAME{_suggest(family, ROUTE_KINDS)}"
            )
        elif name and family not in MODEL_FAMILIES:
            errors.append(f"{where}: {value!r}: only a model family takes a :NAME")
        elif ":" in value and not name:
            errors.append(f"{where}: {value!r}: the model name after ':' is empty")


DIGEST_FORMATS = ("html", "txt", "md", "json", "atom")


# --------------------------------------------------------------------------- feeds


def _build_feeds(
    raw: Mapping[str, Any], errors: list[str], where: str
) -> tuple[FeedSpec, ...]:
    _check_unknown(raw, ["feed"], where, errors)
    entries = raw.get("feed", [])
    if not isinstance(entries, list):
        errors.append(f"{where}: 'feed' must be an array of tables ([[feed]])")
        return ()
    feeds: list[FeedSpec] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(entries):
        path = f"{where}: feed[{i}]"
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            path = f"{where}: feed[{i}] ({entry['name']})"
        spec = _coerce(FeedSpec, entry, path, errors)
        if isinstance(entry, dict):
            _check_feed(entry, path, errors)
        if spec is _INVALID or spec is None:
            continue
        if spec.name in seen:
            errors.append(
                f"{path}.name: duplicate feed name {spec.name!r} (also feed[{seen[spec.name]}])"
            )
        seen.setdefault(spec.name, i)
        feeds.append(_source_url(spec))
    return tuple(feeds)


def _check_feed(raw: Mapping[str, Any], path: str, errors: list[str]) -> None:
    """Value checks beyond types, on the raw table so they run even when a key is missing."""
    name, url, lang, country = (raw.get(k) for k in ("name", "url", "lang", "country"))
    if isinstance(name, str) and not name.strip():
        errors.append(f"{path}.name: must not be empty")
    if isinstance(url, str):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            errors.append(f"{path}.url: {url!r} is not an http(s) URL")
    if isinstance(lang, str) and not LANG_RE.match(lang):
        errors.append(f"{path}.lang: {lang!r} is not a language code like 'ru' or 'en'")
    if isinstance(country, str) and not country.strip():
        errors.append(f"{path}.country: must not be empty")
    elif isinstance(country, str) and not is_country(country):
        code = suggest_country(country)
        hint = f" (did you mean {code!r}?)" if code else ""
        errors.append(
            f"{path}.country: {country!r} is not an ISO 3166 alpha-2 code "
            f"(like 'KZ') or 'intl'{hint}"
        )
    _check_source(raw, path, errors)
    _check_route(raw, path, errors)


def _check_route(raw: Mapping[str, Any], path: str, errors: list[str]) -> None:
    """Per-feed proxy, mirrors and block-page settings (issue #20)."""
    proxy = raw.get("proxy")
    if isinstance(proxy, str):
        try:
            parse_proxy(proxy)
        except ValueError as e:
            errors.append(f"{path}.proxy: {e}")
    urls = raw.get("urls")
    if isinstance(urls, list):
        if "url" in raw:
            errors.append(f"{path}.urls: give `url` or `urls`, not both")
        if not urls:
            errors.append(f"{path}.urls: must list at least the primary URL")
        for i, u in enumerate(urls):
            parts = urlsplit(u) if isinstance(u, str) else None
            if parts is not None and (
                parts.scheme not in ("http", "https") or not parts.netloc
            ):
                errors.append(f"{path}.urls[{i}]: {u!r} is not an http(s) URL")
    for i, status in enumerate(raw.get("block_statuses") or ()):
        if isinstance(status, int) and not 200 <= status <= 599:
            errors.append(f"{path}.block_statuses[{i}]: {status} is not an HTTP status")
    for i, marker in enumerate(raw.get("block_markers") or ()):
        if isinstance(marker, str) and not marker.strip():
            errors.append(f"{path}.block_markers[{i}]: must not be empty")


# --------------------------------------------------------------- source kinds (#14)

TELEGRAM_HOSTS = ("t.me", "telegram.me")
TELEGRAM_CHANNEL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")
MAX_BACKFILL_PAGES = 20
MAX_URLS_PER_POLL = 1000
# Settings that only mean something for one kind: set on another kind, they are errors.
KIND_KEYS: Mapping[str, str] = {
    "channel": "telegram",
    "media_only": "telegram",
    "backfill_pages": "telegram",
    "fetch_linked": "telegram",
    "max_age_days": "sitemap",
    "max_urls_per_poll": "sitemap page",
}


def _check_source(raw: Mapping[str, Any], path: str, errors: list[str]) -> None:
    """Kind-specific checks: url or channel, t.me/s/ pages, ranges, misplaced keys."""
    kind = raw.get("kind", "feed")
    if not isinstance(kind, str):
        return  # reported by the type check
    for key, kinds in KIND_KEYS.items():
        if key in raw and kind not in kinds.split():
            errors.append(
                f"{path}.{key}: only for kind = {' or '.join(map(repr, kinds.split()))}"
                f" (this feed is kind = {kind!r})"
            )
    url, channel = raw.get("url"), raw.get("channel")
    if url is None and "urls" not in raw and not (kind == "telegram" and channel):
        extra = " (or `channel` for kind = 'telegram')" if kind == "telegram" else ""
        errors.append(f"{path}.url: required key is missing{extra}")
    if isinstance(channel, str) and not TELEGRAM_CHANNEL_RE.match(channel):
        errors.append(f"{path}.channel: {channel!r} is not a Telegram channel name")
    if kind == "telegram" and isinstance(url, str):
        parts = urlsplit(url)  # another host is a mirror of t.me/s (or a test server)
        if parts.hostname in TELEGRAM_HOSTS and not parts.path.startswith("/s/"):
            name = parts.path.strip("/").split("/")[0] or "<channel>"
            errors.append(
                f"{path}.url: {url!r} is not a channel preview page; "
                f"use https://t.me/s/{name}"
            )
    _check_range(raw, "backfill_pages", 0, MAX_BACKFILL_PAGES, path, errors)
    _check_range(raw, "max_urls_per_poll", 1, MAX_URLS_PER_POLL, path, errors)
    _check_range(raw, "max_age_days", 0, 3650, path, errors)
    _check_range(raw, "interval", 60, 7 * 86400, path, errors)


def _check_range(
    raw: Mapping[str, Any],
    key: str,
    low: float,
    high: float,
    path: str,
    errors: list[str],
) -> None:
    value = raw.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not low <= value <= high:
            errors.append(f"{path}.{key}: must be in {low}..{high}, got {value}")


def _source_url(spec: FeedSpec) -> FeedSpec:
    """A telegram source given by `channel` polls https://t.me/s/<channel>; a
    feed given by `urls` (mirrors, #20) has the first, its primary, as `url`."""
    if spec.kind == "telegram" and spec.channel and not spec.url:
        return dataclasses.replace(spec, url=f"https://t.me/s/{spec.channel}")
    if spec.urls:  # the primary (issue #20): what storage and status key on
        return dataclasses.replace(spec, url=spec.urls[0])
    return spec


# --------------------------------------------------------------- watches (issue #16)

NOTIFY_SCHEMES = ("mailto", "http", "https", "atom")
QUIET_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_quiet_hours(text: str) -> tuple[int, int] | None:
    """``"22:00-07:00"`` -> (start, end) in minutes after local midnight.

    The span may cross midnight; "" means no quiet hours.

    Raises:
        ValueError: not ``HH:MM-HH:MM``, a time out of range, or an empty span.
    """
    if not text.strip():
        return None
    m = QUIET_RE.match(text)
    if m is None:
        raise ValueError(f"{text!r} is not HH:MM-HH:MM (e.g. '22:00-07:00')")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ValueError(f"{text!r}: hours are 0..23 and minutes 0..59")
    if (h1, m1) == (h2, m2):
        raise ValueError(f"{text!r}: start and end are the same time")
    return h1 * 60 + m1, h2 * 60 + m2


def _load_watches(
    cdir: Path, cfg: Config, data: Mapping[str, Any], errors: list[str]
) -> tuple[WatchConfig, ...]:
    """``[[watch]]`` tables from monitor.toml, then from alerts.watches_file."""
    tables = [("monitor.toml", data.get("watch", []))]
    path = _resolve(cdir, cfg.alerts.watches_file)
    if path.exists():
        raw = _read_toml(path, errors, required=False)
        _check_unknown(raw, ["watch"], str(cfg.alerts.watches_file), errors)
        tables.append((str(cfg.alerts.watches_file), raw.get("watch", [])))
    watches: list[WatchConfig] = []
    seen: set[str] = set()
    for where, entries in tables:
        if not isinstance(entries, list):
            errors.append(f"{where}: 'watch' must be an array of tables ([[watch]])")
            continue
        for i, entry in enumerate(entries):
            watch = _build_watch(entry, f"{where}: watch[{i}]", errors)
            if watch is None:
                continue
            if watch.name in seen:
                errors.append(f"{where}: watch[{i}].name: duplicate {watch.name!r}")
            seen.add(watch.name)
            watches.append(watch)
    _check_alerts(cfg, errors)
    return tuple(watches)


def _build_watch(entry: Any, path: str, errors: list[str]) -> WatchConfig | None:
    if isinstance(entry, dict) and isinstance(entry.get("name"), str):
        path = f"{path} ({entry['name']})"
    watch = _coerce(WatchConfig, entry, path, errors)
    if watch is _INVALID or watch is None:
        return None
    assert isinstance(watch, WatchConfig)
    _check_watch(watch, path, errors)
    return watch


def _check_watch(w: WatchConfig, path: str, errors: list[str]) -> None:
    if not w.name.strip():
        errors.append(f"{path}.name: must not be empty")
    if not (w.query.strip() or w.topic.strip() or w.country.strip()):
        errors.append(f"{path}: set query, topic or country (what to watch for)")
    if not w.notify:
        errors.append(f"{path}.notify: list at least one mailto:, http(s):// or atom:")
    for i, target in enumerate(w.notify):
        problem = notify_problem(target)
        if problem:
            errors.append(f"{path}.notify[{i}]: {problem}")
    if w.min_outlets < 1:
        errors.append(f"{path}.min_outlets: must be >= 1, got {w.min_outlets}")
    for n in w.follow_up:
        if n <= w.min_outlets:
            errors.append(
                f"{path}.follow_up: {n} must be above min_outlets ({w.min_outlets})"
            )
    try:
        parse_quiet_hours(w.quiet_hours)
    except ValueError as e:
        errors.append(f"{path}.quiet_hours: {e}")


def notify_problem(target: str) -> str:
    """Why a ``notify`` entry is unusable ("" when it is fine)."""
    scheme, sep, rest = target.partition(":")
    if not sep or scheme.lower() not in NOTIFY_SCHEMES:
        hint = _suggest(scheme.lower(), NOTIFY_SCHEMES)
        return f"{target!r}: start with mailto:, http://, https:// or atom:{hint}"
    scheme = scheme.lower()
    if scheme == "mailto" and ("@" not in rest or any(c in rest for c in " ,;<>")):
        return f"{target!r} is not one e-mail address (mailto:analyst@example.org)"
    if scheme in ("http", "https"):
        parts = urlsplit(target)
        if not parts.netloc:
            return f"{target!r} has no host"
    if scheme == "atom" and not rest.strip():
        return f"{target!r}: give the file, e.g. atom:alerts/protests.xml"
    return ""


def _check_alerts(cfg: Config, errors: list[str]) -> None:
    a = cfg.alerts
    for key in (
        "lookback_hours",
        "webhook_timeout",
        "webhook_attempts",
        "max_failures",
        "atom_entries",
        "burst_hours",
        "burst_outlets_per_hour",
        "burst_min_outlets",
        "volume_hours",
        "volume_baseline_days",
        "volume_min_count",
    ):
        if getattr(a, key) <= 0:
            errors.append(
                f"alerts.{key}: must be greater than 0, got {getattr(a, key)}"
            )
    if a.webhook_backoff < 0:
        errors.append(f"alerts.webhook_backoff: must be >= 0, got {a.webhook_backoff}")
    if a.timezone:
        try:
            ZoneInfo(a.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            errors.append(f"alerts.timezone: unknown time zone {a.timezone!r}")


def resolve_recipient_topics(cfg: Config, topics: Mapping[str, str]) -> Config:
    """Check every ``mail.recipients[*].topics`` entry and name it by its heading.

    Recipients may list a topic by id ("unrest") or by the heading the digest
    shows ("Unrest and protests"); both become the heading, which is what the
    digest filters on.  "Other" (unfiled stories) is always allowed.

    Args:
        cfg: the loaded configuration.
        topics: topic id -> heading, from the compiled rules.

    Raises:
        ConfigError: listing every unknown topic with its key path.
    """
    by_name = {label.casefold(): label for label in topics.values()}
    by_name |= {tid.casefold(): label for tid, label in topics.items()}
    by_name["other"] = "Other"
    errors: list[str] = []
    recipients = []
    seen: set[str] = set()
    for i, r in enumerate(cfg.mail.recipients):
        path = f"mail.recipients[{i}]"
        if r.address.casefold() in seen:
            errors.append(f"{path}.address: duplicate recipient {r.address!r}")
        seen.add(r.address.casefold())
        for t in r.topics:
            if t.casefold() not in by_name:
                hint = _suggest(t, [*topics.values(), *topics, "Other"])
                errors.append(f"{path}.topics: unknown topic {t!r}{hint}")
        names = tuple(by_name.get(t.casefold(), t) for t in r.topics)
        recipients.append(dataclasses.replace(r, topics=names))
    if errors:
        raise ConfigError(errors)
    mail = dataclasses.replace(cfg.mail, recipients=tuple(recipients))
    return dataclasses.replace(cfg, mail=mail)


def validate_feeds_text(text: str, where: str) -> tuple[FeedSpec, ...]:
    """Validate a feeds.toml document given as text (`monitor feeds add/import`).

    The same checks as `load_config` applies to feeds.toml, so an edit is
    refused before it is written.

    Raises:
        ConfigError: listing every problem found, each with its key path.
    """
    errors: list[str] = []
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError([f"{where}: invalid TOML: {e}"]) from e
    feeds = _build_feeds(raw, errors, where)
    if errors:
        raise ConfigError(errors)
    return feeds
