"""tinylm.data (filled in by later steps)."""
