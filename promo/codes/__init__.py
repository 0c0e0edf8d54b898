"""Codes: canonical form, vanity codes, pattern batches, affiliates' dedicated codes."""
