"""Database access shared by every domain: engine, metadata, per-request transactions."""
