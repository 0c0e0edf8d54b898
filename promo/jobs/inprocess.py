"""The app's jobs: queued work is started, and run in this process where it should be.

``promo serve`` runs a worker in-process when the jobs are to run there (the
SQLite default, where one machine does everything; ``PROMO_JOBS_IN_PROCESS``).
On PostgreSQL the workers are ``promo worker`` processes and the app only
queues. An app built on one connection (tests that roll everything back)
runs the due jobs in full, on that connection, right after the request.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from promo.jobs.worker import Bind, Worker


class AppJobs:
    def __init__(self, worker: Worker, *, in_process: bool) -> None:
        self.worker = worker
        self.inline = isinstance(worker.bind, AsyncConnection)
        self.in_process = in_process and not self.inline

    @property
    def bind(self) -> Bind:
        return self.worker.bind

    async def queued(self) -> None:
        """A request queued a job (after its commit): start it now if it runs here."""
        if self.inline:
            await self.worker.run_due()
        elif self.in_process:
            self.worker.wake()

    async def startup(self) -> None:
        if self.in_process:
            self.worker.start()

    async def shutdown(self) -> None:
        await self.worker.stop()
