"""The case store: one folder per case holding a database and derived files (thumbnails)."""
