"""Console accounts: the people who sign in to the web console (not API keys)."""
