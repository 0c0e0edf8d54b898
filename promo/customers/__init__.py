"""Customers as persons: what promo holds about one (access) and forgetting it (erasure).

Above the checkout, whose rows it reads and pseudonymises; nothing imports it
but its routes.
"""
