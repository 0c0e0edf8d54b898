"""promo: promo code issuance and redemption service."""

__version__ = "0.1.0"
