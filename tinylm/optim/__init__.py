"""tinylm.optim (filled in by later steps)."""
