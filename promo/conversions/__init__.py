"""Conversions without an order: leads, sign-ups, installs, assists, credited to affiliates."""
