"""Request URLs as the platforms write them, and the checks that keep a secret out of them.

Platform modules build clean URLs; a URL that carries a secret parameter is refused before it is sent,
and a secret goes only to the origin it belongs to.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import unquote_plus, urlencode, urlsplit, urlunsplit

SECRET_PARAMETERS = frozenset({"access_token", "key", "client_secret", "appsecret_proof"})
URL_SAFE = ",():."
"""Kept literal in queries, as the platforms' own URLs (and the simulator's) write them."""


def build_url(base: str, path: str, params: dict[str, str]) -> str:
    """`base` + `path` + the query, encoded as the platforms write it (commas and brackets literal)."""
    return f"{base.rstrip('/')}{path}?{urlencode(params, safe=URL_SAFE)}"


def with_params(url: str, params: dict[str, str]) -> str:
    if not params:
        return url
    return f"{url}{'&' if urlsplit(url).query else '?'}{urlencode(params, safe=URL_SAFE)}"


def without_params(url: str, names: Iterable[str]) -> str:
    """Drop query parameters by name, keeping the rest exactly as written (a `paging.next` URL)."""
    dropped = {name.lower() for name in names}
    parts = urlsplit(url)
    kept = [part for part in parts.query.split("&") if part and _name(part) not in dropped]
    return urlunsplit(parts._replace(query="&".join(kept)))


def carries_secret(url: str) -> bool:
    return any(_name(part) in SECRET_PARAMETERS for part in urlsplit(url).query.split("&"))


def _name(part: str) -> str:
    return unquote_plus(part.split("=", 1)[0]).lower()


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"
