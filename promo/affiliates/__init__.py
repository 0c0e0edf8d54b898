"""Affiliate accounts, commission plans and /v1/me self-service."""
