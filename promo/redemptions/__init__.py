"""Checkout: validate, redeem and roll back codes against carts."""
