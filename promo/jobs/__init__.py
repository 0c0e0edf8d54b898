"""Durable background jobs: a table of work that survives restarts, taken by
leases (promo.jobs.queue) and run by workers (promo.jobs.worker).

Infrastructure just above the database: it knows nothing of campaigns or
codes. The domains enqueue jobs of their kinds; the app and ``promo worker``
register the handler of each kind.
"""
