"""URL canonicalisation: one stable identity string per article address.

`canonicalize_url` is pure and never raises.  It is used as an identity key
(dedup of the same article reached through different links), so it folds the
variants that point at the same document:

- scheme and host are lowercased; a trailing dot, the default port and any
  ``user:pass@`` are dropped; non-ASCII hosts become IDNA (punycode);
- the fragment is dropped;
- tracking parameters are dropped (`TRACKING_PARAMS`, every ``utm_*``), the
  remaining query is sorted (stable for repeated keys);
- AMP and mobile variants fold onto the desktop page: ``amp.``/``m.``/
  ``mobile.``/``www.`` host prefixes, ``/amp`` path segments, ``.amp.html``
  endings, ``?amp=1`` / ``?outputType=amp`` parameters;
- percent-escapes are normalised (upper-case hex, unreserved characters
  decoded), an empty path becomes ``/``.

``http`` is NOT folded into ``https``: some regional outlets still serve plain
http only, and a canonical URL must stay an address that can be fetched and
shown to a reader.  The same article seen under both schemes is caught by the
story/near-duplicate stage, which compares text, not URLs.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from tld import get_fld

logger = logging.getLogger(__name__)

TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "ysclid",
        "_openstat",
        "from",
        "ref",
        "ref_src",
        "ref_url",
        "referrer",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "spm",
        "rss",
        "cmpid",
        "smid",
    }
)
TRACKING_PREFIXES = ("utm_", "hsa_", "pk_")
AMP_PARAMS = {"amp": None, "outputtype": "amp", "output": "amp", "format": "amp"}
HOST_PREFIXES = ("amp.", "m.", "mobile.", "www.")
DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = "-._~"
_PATH_SAFE = "/%:@!$&'()*+,;=~"
_PCT_RE = re.compile(r"%[0-9A-Fa-f]{2}")


def canonicalize_url(url: str) -> str:
    """Return the canonical form of ``url`` (see the module docstring).

    Args:
        url: an absolute http(s) URL.  Anything else (relative, other schemes,
            unparsable) is returned stripped but otherwise unchanged.

    Returns:
        The canonical URL string.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        logger.debug("url not canonicalised (unparsable) url=%r", url)
        return url
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return url
    host = _fold_host(parts.hostname)
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = _fold_path(_normalise_escapes(quote(parts.path, safe=_PATH_SAFE)) or "/")
    query = _clean_query(parts.query)
    return urlunsplit((scheme, netloc, path, query, ""))


def _fold_host(hostname: str) -> str:
    host = hostname.lower().rstrip(".")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        pass  # keep the unicode host; still a stable key
    # Fold at most one variant prefix, and never reduce a host to a bare TLD.
    for prefix in HOST_PREFIXES:
        rest = host[len(prefix) :]
        if host.startswith(prefix) and "." in rest:
            return rest
    return host


def _fold_path(path: str) -> str:
    segments = path.split("/")
    kept = [s for s in segments[1:] if s.lower() != "amp"]
    if len(kept) != len(segments) - 1:
        path = "/" + "/".join(kept)
        if not kept:
            path = "/"
    if path.lower().endswith(".amp.html"):
        path = path[: -len(".amp.html")] + ".html"
    elif path.lower().endswith(".amp"):
        path = path[: -len(".amp")]
    return path


def _clean_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if not _is_dropped_param(k, v)]
    kept.sort(key=lambda kv: kv[0])  # stable: repeated keys keep their order
    return urlencode(kept, quote_via=quote, safe="/:@!$'()*,;=")


def _is_dropped_param(key: str, value: str) -> bool:
    k = key.lower()
    if k in TRACKING_PARAMS or k.startswith(TRACKING_PREFIXES):
        return True
    if k in AMP_PARAMS:
        wanted = AMP_PARAMS[k]
        return wanted is None or value.lower() == wanted
    return False


def _normalise_escapes(path: str) -> str:
    """Upper-case percent-escapes and decode the ones for unreserved characters."""

    def fix(match: re.Match[str]) -> str:
        char = unquote(match.group(0))
        if char.isascii() and (char.isalnum() or char in _UNRESERVED):
            return char
        return match.group(0).upper()

    return _PCT_RE.sub(fix, path)


def registrable_domain(url: str) -> str | None:
    """The registrable domain ("eTLD+1") of ``url``'s host, offline.

    Uses the public suffix list bundled with the ``tld`` package (courlan's own
    dependency; read from its data file, never downloaded at run time).
    Hosts without a public suffix (an IP address, ``localhost``, an intranet
    name) are their own domain, so two
    different such hosts never count as one site.  A ``www.``/``m.`` variant
    folds like `canonicalize_url` does.

    Returns:
        The lower-case domain, or None when ``url`` has no host.
    """
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    if not host:
        return None
    host = _fold_host(host)
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    domain = get_fld(f"http://{host}/", fail_silently=True)
    return str(domain).lower() if domain else host


def may_merge_by_canonical(page_url: str, canonical: str) -> bool:
    """Whether a page's declared canonical URL may identify its article (pure).

    A page may only name a canonical URL on its own registrable domain: one
    outlet's page must not take over another outlet's article by claiming its
    URL (issue #11.9).  Anything else keeps the page's own address.
    """
    mine, theirs = registrable_domain(page_url), registrable_domain(canonical)
    return mine is not None and mine == theirs
