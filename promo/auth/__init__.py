"""API keys, roles and the authentication that turns a bearer key into a Principal."""
