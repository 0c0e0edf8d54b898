"""Campaigns: their rules, lifecycle and the pure discount engine."""
