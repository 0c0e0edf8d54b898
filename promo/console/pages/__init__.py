"""The console's pages, one module per area; each is a list of handlers."""
