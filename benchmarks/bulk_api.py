"""Bulk work through the running service: a large code batch, and the ledger export.

- bulk: ``POST /v1/campaigns/{id}/code-batches`` (202, generated in the
  background by one worker), then ``GET /v1/code-batches/{id}`` every 50 ms
  until it is done: seconds from the request to "done", and rows/s.
- export: ``GET /v1/ledger/export?format=csv`` read by curl and counted by
  ``wc -l`` (C tools, so the client costs the two cores little): rows/s, and
  the peak RSS growth of the worker that served it.

Peak RSS: each worker's ``VmHWM`` is reset to its current RSS before the work
(``/proc/<pid>/clear_refs``) and read after it; ``VmRSS`` is also sampled
every 10 ms in case the reset is not allowed.
"""

from __future__ import annotations

import subprocess
import threading
import time
from dataclasses import dataclass
from types import TracebackType

import httpx

from benchmarks.servers import reset_peak, status_mb

BULK_PATTERN = "BLK-#####-#####"
POLL_SECONDS = 0.05
BULK_TIMEOUT_SECONDS = 1800
EXPORT_TIMEOUT_SECONDS = 1800


class PeakWatch:
    """The largest RSS growth of any of ``workers`` while the block runs."""

    def __init__(self, workers: list[int]) -> None:
        self.workers = workers
        self.baseline: dict[int, float] = {}
        self.sampled: dict[int, float] = {}
        self.reset: dict[int, bool] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self.growth_mb = 0.0
        self.worker = 0

    def __enter__(self) -> PeakWatch:
        for pid in self.workers:
            self.reset[pid] = reset_peak(pid)
            self.baseline[pid] = status_mb(pid, "VmRSS")
            self.sampled[pid] = self.baseline[pid]
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            for pid in self.workers:
                try:
                    self.sampled[pid] = max(self.sampled[pid], status_mb(pid, "VmRSS"))
                except OSError:
                    pass

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        for pid in self.workers:
            peak = self.sampled[pid]
            if self.reset[pid]:
                peak = max(peak, status_mb(pid, "VmHWM"))
            growth = peak - self.baseline[pid]
            if growth >= self.growth_mb:
                self.growth_mb, self.worker = growth, pid


@dataclass(frozen=True)
class BulkResult:
    rows: int
    seconds: float
    peak_growth_mb: float

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


def measure_bulk(
    url: str, headers: dict[str, str], campaign_id: str, rows: int, workers: list[int]
) -> BulkResult:
    body = {"count": rows, "pattern": BULK_PATTERN, "charset": "safe"}
    with PeakWatch(workers) as watch, httpx.Client(base_url=url, headers=headers) as client:
        started = time.perf_counter()
        response = client.post(f"/v1/campaigns/{campaign_id}/code-batches", json=body)
        if response.status_code not in (201, 202):
            raise RuntimeError(f"batch refused: {response.status_code} {response.text}")
        batch = response.json()
        deadline = started + BULK_TIMEOUT_SECONDS
        while batch["status"] in ("pending", "running") and time.perf_counter() < deadline:
            time.sleep(POLL_SECONDS)
            batch = client.get(f"/v1/code-batches/{batch['id']}").json()
        seconds = time.perf_counter() - started
    if batch["status"] != "done" or batch["generated"] != rows:
        raise RuntimeError(f"batch did not finish: {batch}")
    return BulkResult(rows=rows, seconds=seconds, peak_growth_mb=watch.growth_mb)


@dataclass(frozen=True)
class ExportResult:
    rows: int
    seconds: float
    peak_growth_mb: float
    worker: int

    @property
    def rate(self) -> float:
        return self.rows / self.seconds


def measure_export(url: str, headers: dict[str, str], workers: list[int]) -> ExportResult:
    command = ["curl", "--silent", "--show-error", "--fail", "--no-buffer"]
    for name, value in headers.items():
        command += ["--header", f"{name}: {value}"]
    command.append(f"{url}/v1/ledger/export?format=csv")
    with PeakWatch(workers) as watch:
        started = time.perf_counter()
        curl = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert curl.stdout is not None
        try:
            counted = subprocess.run(
                ["wc", "-l"],
                stdin=curl.stdout,
                capture_output=True,
                text=True,
                timeout=EXPORT_TIMEOUT_SECONDS,
                check=True,
            )
        finally:
            curl.stdout.close()
            curl.wait(timeout=EXPORT_TIMEOUT_SECONDS)
        seconds = time.perf_counter() - started
    if curl.returncode != 0:
        assert curl.stderr is not None
        raise RuntimeError(f"export failed: {curl.stderr.read().decode(errors='replace')}")
    lines = int(counted.stdout.split()[0])
    return ExportResult(
        rows=lines - 1,  # the header
        seconds=seconds,
        peak_growth_mb=watch.growth_mb,
        worker=watch.worker,
    )
