"""tinylm.nn (filled in by later steps)."""
