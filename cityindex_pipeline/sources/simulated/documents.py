"""Pieces every platform's documents are built of: the response, its URL, ids, tokens and page sizes."""

from __future__ import annotations

import base64
import hashlib
import random
import string
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

PAGE_SIZE = {"posts": 25, "media": 25, "tweets": 100, "playlist_items": 50}
IDS_PER_LOOKUP = 50
ID_CHARS = string.ascii_letters + string.digits + "-_"
_SAFE = ",():."


@dataclass(frozen=True)
class Page:
    """One response of a pull, before it is wrapped with its page number and fetch time."""

    endpoint: str
    payload: Any
    url: str


def request_url(base: str, params: dict[str, str]) -> str:
    return f"{base}?{urlencode(params, safe=_SAFE)}"


def random_token(rng: random.Random, length: int, alphabet: str = ID_CHARS) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def digest_token(*parts: str) -> str:
    """A stable id-like string for a derived identifier, cheaper than a seeded generator."""
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def chunked(items: list[Any], size: int) -> list[list[Any]]:
    return [items[start : start + size] for start in range(0, len(items), size)]
