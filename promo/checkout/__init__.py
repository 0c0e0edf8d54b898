"""Checkout: validate a code against a cart, redeem it, roll it back or refund it.

The domain above the catalogue (campaigns, affiliates, codes), which it
reads, and the ledger, which it appends to; nothing below imports it.
``eligibility`` holds the ordered rules (pure), ``steps`` the consuming
statements (defined once, composed per database), ``redemption`` and
``refunds`` the two writes, ``idempotency`` the Idempotency-Key answers and
``throttle``/``screening`` the attempt budgets.
"""
