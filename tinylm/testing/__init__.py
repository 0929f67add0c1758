"""tinylm.testing (filled in by later steps)."""
