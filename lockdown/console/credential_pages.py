"""Console pages (being written)."""
