"""tinylm.models (filled in by later steps)."""
