"""Is a platform's drop complete, by the source's own structure?

A shape check cannot see what is not there: a posts page left out drops its posts, insights left out
drop their exposures, and the month's scores change without a word. The documents themselves say
what a whole pull holds, and `drop_complete` holds each active account to it:

- every page a stored page points to is stored (Graph `paging.next`, X `meta.next_token`, YouTube
  `nextPageToken`). Instagram media and the YouTube uploads playlist are paged newest first only
  until past the month's start, so a page that reaches before the month may still carry a cursor;
- every post of the month a listing shows has its insights (Facebook, Instagram: the multi-id
  lookups), and every video of the month the playlist lists has its `videos` entry (YouTube);
  posts and videos outside the month need none, as the API source asks for none;
- every active account has each endpoint it needs: its profile, and its listing (X only for a user
  the user document found, YouTube only for a channel that names an uploads playlist and does not
  say it has no videos).

A gap is a gap whatever caused it, and its row says the cause when the pull knows it:

- a stored page that is unusable (broken JSON, an error body) holds none of its records and cannot be
  followed: its posts, and whether it pointed further, are missing;
- a landing file the source could not store (bytes that are not UTF-8, a link, a pipe) stands for
  the endpoint page its name gives, and that page is missing.

Only the platform's own word excuses an account: an account with no document at all and a problem
the platform reported for it (gone, 404) has nothing to give, as `accounts_covered` explains it; it
is listed with the finding (`explained`), not failed. A problem that names no endpoint page (a stray
file, an account the API source stopped at its cap on pages or bytes) is shown beside the account's
gaps as `recorded_problem`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import polars as pl

from cityindex_pipeline.core.months import Month
from cityindex_pipeline.quality.findings import SAMPLE_ROWS, Finding, jsonable
from cityindex_pipeline.quality.pull_structure import STRUCTURES, Item, Page, Pages, Stored, Structure
from cityindex_pipeline.sources.base import ENDPOINTS
from cityindex_pipeline.sources.landing import LOCATION_PREFIX, landing_file

IDS_SHOWN = 5
"""Ids named in a finding's row of missing insights or videos; the count says how many in all."""


@dataclass(frozen=True)
class Gap:
    endpoint: str
    missing: str
    cause: str | None = None
    """Why it is missing, when the pull knows (an unusable page, a file it could not store)."""
    excused: bool = False
    """The platform said the account has nothing to give (gone, not found): not a gap of the drop."""


def _past_start(items: tuple[Item, ...], start: datetime) -> bool:
    """The page reaches before the month: its last dated item (lists run newest first) is older."""
    dated = [published for _, published in items if published is not None]
    return bool(dated) and dated[-1] < start


def _listing_gaps(structure: Structure, month: Month, pages: dict[int, Page], named: dict) -> list[Gap]:
    """Follow the cursor from page 1: each page a usable page points to must be stored."""
    endpoint = structure.listing

    def missing(page: int, what: str) -> Gap:
        return Gap(endpoint, what, _undelivered(named, endpoint, page))

    if not pages:
        return [missing(1, f"no {endpoint} document")]
    gaps = []
    number = 1
    if 1 not in pages:
        gaps.append(missing(1, f"{endpoint} page 1"))
        number = min(pages)
    while True:
        page, following = pages[number], number + 1
        if page.unusable is not None:
            gaps.append(
                Gap(endpoint, f"the records of {endpoint} page {number}", f"it is unusable ({page.unusable})")
            )
        if page.unusable is not None and following not in pages:
            unknowable = f"{endpoint} page {number} is unusable: whether it pointed further is unknowable"
            return [*gaps, Gap(endpoint, f"{endpoint} after page {number}", unknowable)]
        ends = page.cursor is None or (
            structure.until_past_start and _past_start(page.items, month.start_utc)
        )
        if page.unusable is None and ends:
            return gaps
        if following not in pages:
            gaps.append(
                missing(following, f"{endpoint} page {following} ({structure.cursor_name} of page {number})")
            )
            later = [n for n in pages if n > following]
            if not later:
                return gaps
            following = min(later)
        number = following


def _undelivered(named: dict[tuple[str, int], str], endpoint: str, page: int | None = None) -> str | None:
    """Why a document is not stored, if the drop delivered a file for it the source could not read."""
    for (problem_endpoint, problem_page), reason in sorted(named.items()):
        if problem_endpoint == endpoint and page in (None, problem_page):
            return f"{endpoint} page {problem_page} was delivered but could not be stored ({reason})"
    return None


def account_gaps(
    structure: Structure, month: Month, pages: Pages, named: dict[tuple[str, int], str]
) -> list[Gap]:
    """Every gap of one account's documents; `named` maps (endpoint, page) to the reason a landing
    file standing for it could not be stored."""
    gaps = []
    profiles = pages.get(structure.profile, {})
    profile = next((page for _, page in sorted(profiles.items()) if page.unusable is None), None)
    if not profiles:
        gaps.append(
            Gap(structure.profile, f"no {structure.profile} document", _undelivered(named, structure.profile))
        )
    elif profile is None:
        number, broken = min(profiles.items())
        gaps.append(
            Gap(structure.profile, f"a usable {structure.profile} document",
                f"{structure.profile} page {number} is unusable ({broken.unusable})")
        )  # fmt: skip
    listing = pages.get(structure.listing, {})
    if listing or (profile.has_listing if profile else structure.has_listing(None)):
        gaps += _listing_gaps(structure, month, listing, named)
    if structure.lookup is None:
        return gaps
    start, end = month.start_utc, month.end_utc
    wanted = dict.fromkeys(
        post_id
        for page in listing.values()
        for post_id, published in page.items
        if post_id is not None and published is not None and start <= published < end
    )
    lookups = pages.get(structure.lookup, {})
    answered = set().union(*(page.ids for page in lookups.values()))
    unanswered = [post_id for post_id in wanted if post_id not in answered]
    if unanswered:
        shown = ", ".join(unanswered[:IDS_SHOWN]) + (", …" if len(unanswered) > IDS_SHOWN else "")
        broken = [(n, page.unusable) for n, page in sorted(lookups.items()) if page.unusable is not None]
        explained = (
            f"{structure.lookup} page {broken[0][0]} is unusable ({broken[0][1]})"
            if broken
            else _undelivered(named, structure.lookup)
        )
        what = f"{structure.lookup} of {len(unanswered)} {structure.lookup_of}: {shown}"
        gaps.append(Gap(structure.lookup, what, explained))
    return gaps


GAP_SCHEMA = {
    "account_handle": pl.String, "endpoint": pl.String, "missing": pl.String, "city_id": pl.String,
    "platform": pl.String, "recorded_problem": pl.String, "cause": pl.String, "excused": pl.Boolean,
}  # fmt: skip


def drop_complete(
    platform: str,
    month: Month,
    active_accounts: pl.DataFrame,
    stored: Stored,
    problems: pl.DataFrame,
) -> Finding:
    """Every active account's documents are whole by the platform's own structure (module docstring).

    `stored` is the pull's documents as `read_pull` reads them; `problems` the pull's rows of
    raw.source_problems. A failing row names the account, the endpoint and what is missing; what
    only an unusable document or a recorded problem explains is listed apart.
    """
    structure = STRUCTURES[platform]
    recorded: dict[str, list[tuple[str, str]]] = {}
    for handle, location, reason in problems.select("account_handle", "location", "reason").iter_rows():
        if handle is not None:
            recorded.setdefault(handle, []).append((location, reason))
    rows = []
    for account in active_accounts.select("platform", "city_id", "account_handle").iter_rows(named=True):
        handle = account["account_handle"]
        pages, problems_of = stored.get(handle, {}), recorded.get(handle, [])
        named = {
            named_file: reason
            for location, reason in problems_of
            if (named_file := landing_file(location)) and named_file[0] in ENDPOINTS[platform]
        }
        unnamed = [reason for location, reason in problems_of if landing_file(location) is None]
        reported = [reason for location, reason in problems_of if not location.startswith(LOCATION_PREFIX)]
        if not pages and reported:
            gaps = [
                Gap(structure.profile, "every document", f"the pull recorded: {reported[0]}", excused=True)
            ]
        else:
            gaps = account_gaps(structure, month, pages, named)
        for gap in gaps:
            rows.append({
                **account, "endpoint": gap.endpoint, "missing": gap.missing,
                "recorded_problem": "; ".join(unnamed)[:500] or None, "cause": gap.cause,
                "excused": gap.excused,
            })  # fmt: skip
    found = pl.DataFrame(rows, schema=GAP_SCHEMA)
    gaps = found.filter(~pl.col("excused")).drop("excused")
    explained = found.filter(pl.col("excused")).drop("recorded_problem", "excused")
    short = gaps["account_handle"].n_unique()
    return Finding(
        passed=gaps.height == 0,
        failed_rows=gaps.height,
        sample=jsonable(gaps.head(SAMPLE_ROWS).to_dicts()),
        detail=f"{active_accounts.height} active accounts: {gaps.height} gap(s) in {short} account(s); "
        f"{explained.height} excused: the platform reported the account has nothing to give",
        fix="" if gaps.height == 0 else (
            "deliver what is missing for these accounts (the pages and documents named, in the account's "
            "landing folder, then a new _COMPLETE marker) or pull them again from the API, and re-run the "
            "month; publishing without them needs --override-errors with the reason"
        ),
        extra={"accounts_with_gaps": short, "explained": jsonable(explained.head(20).to_dicts())},
    )  # fmt: skip
