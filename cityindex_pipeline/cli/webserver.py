"""Launch a backfill of months on a running Dagster instance through its GraphQL API, and follow it.

The backfill is an asset backfill, the same as "Materialize" over a partition range in the UI: the
daemon launches the runs, orders each month after the previous one where an asset reads its previous
month, and queues the runs behind the instance's run-queue limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from cityindex_pipeline.core.months import Month

LAUNCH = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on Error { message }
  }
}
"""

STATUS = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill {
      id status numPartitions
      assetBackfillData {
        assetBackfillStatuses {
          ... on AssetPartitionsStatusCounts {
            assetKey { path } numPartitionsTargeted numPartitionsInProgress
            numPartitionsMaterialized numPartitionsFailed
          }
        }
      }
    }
    ... on PythonError { message }
    ... on Error { message }
  }
}
"""

RUNS = """
query Runs($filter: RunsFilter!) {
  runsOrError(filter: $filter) {
    __typename
    ... on Runs { results { runId status startTime endTime } }
    ... on PythonError { message }
  }
}
"""

ASSET_KEYS = """
query { assetNodes { assetKey { path } partitionDefinition { name } } }
"""

FINISHED = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


class BackfillError(RuntimeError):
    """The webserver refused the backfill or could not be reached."""


@dataclass(frozen=True)
class Progress:
    status: str
    targeted: int
    materialized: int
    failed: int
    in_progress: int

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def succeeded(self) -> bool:
        return self.status in {"COMPLETED", "COMPLETED_SUCCESS"} and self.failed == 0


@dataclass(frozen=True)
class RunTimes:
    run_id: str
    status: str
    started: float | None
    ended: float | None

    @property
    def seconds(self) -> float | None:
        return None if self.started is None or self.ended is None else self.ended - self.started


class DagsterWebserver:
    """A running `dagster dev` / `dagster-webserver`, spoken to at `<url>/graphql`."""

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.client = httpx.Client(timeout=timeout)

    def graphql(self, query: str, variables: dict[str, object] | None = None) -> dict:
        try:
            response = self.client.post(f"{self.url}/graphql", json={"query": query, "variables": variables})
        except httpx.HTTPError as error:
            raise BackfillError(
                f"no Dagster webserver at {self.url} ({error}); start one with `cityindex dev`"
            ) from error
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise BackfillError(f"GraphQL errors: {body['errors']}")
        return body["data"]

    def asset_keys(self) -> list[list[str]]:
        nodes = self.graphql(ASSET_KEYS)["assetNodes"]
        return sorted(node["assetKey"]["path"] for node in nodes if node["partitionDefinition"])

    def launch_backfill(self, months: list[Month], title: str | None = None) -> str:
        """Every partitioned asset (and its checks) for the months; returns the backfill id. Without
        a title, as the UI launches by default (the run coordinator then titles it)."""
        params = {
            "partitionNames": [m.partition_key for m in months],
            "assetSelection": [{"path": path} for path in self.asset_keys()],
            "fromFailure": False,
            **({"title": title} if title else {}),
        }
        result = self.graphql(LAUNCH, {"params": params})["launchPartitionBackfill"]
        if result["__typename"] != "LaunchBackfillSuccess":
            raise BackfillError(f"{result['__typename']}: {result.get('message')}")
        return result["backfillId"]

    def progress(self, backfill_id: str) -> Progress:
        backfill = self.graphql(STATUS, {"id": backfill_id})["partitionBackfillOrError"]
        if backfill["__typename"] != "PartitionBackfill":
            raise BackfillError(f"{backfill['__typename']}: {backfill.get('message')}")
        counts = backfill["assetBackfillData"]["assetBackfillStatuses"]
        return Progress(
            status=backfill["status"],
            targeted=sum(c["numPartitionsTargeted"] for c in counts),
            materialized=sum(c["numPartitionsMaterialized"] for c in counts),
            failed=sum(c["numPartitionsFailed"] for c in counts),
            in_progress=sum(c["numPartitionsInProgress"] for c in counts),
        )

    def runs(self, backfill_id: str) -> list[RunTimes]:
        """The runs the backfill launched, with their status and start and end times (epoch seconds)."""
        variables = {"filter": {"tags": [{"key": "dagster/backfill", "value": backfill_id}]}}
        runs = self.graphql(RUNS, variables)["runsOrError"]
        if runs["__typename"] != "Runs":
            raise BackfillError(f"{runs['__typename']}: {runs.get('message')}")
        return [RunTimes(r["runId"], r["status"], r["startTime"], r["endTime"]) for r in runs["results"]]

    def wait(
        self,
        backfill_id: str,
        timeout: float,
        poll_seconds: float = 2.0,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> Progress:
        deadline = time.monotonic() + timeout
        last = None
        while True:
            progress = self.progress(backfill_id)
            if on_progress and progress != last:
                on_progress(progress)
            last = progress
            if progress.finished:
                return progress
            if time.monotonic() > deadline:
                raise BackfillError(f"backfill {backfill_id} not finished after {timeout:.0f} s: {progress}")
            time.sleep(poll_seconds)
