"""Events: what happened, written in the transaction of the change (the outbox).

A change that other systems hear about (a redemption, a refund, a payout, a
batch that ended, commission that became available, a budget threshold)
writes one row of ``events`` in its own transaction, or in its own statement
(the checkout's), so an event exists if and only if its change committed.
Webhooks (promo.webhooks) fan each event out to the subscriptions that want
it and deliver it. Just above the database: every domain may emit.
"""
