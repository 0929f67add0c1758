"""tinylm: a from-scratch educational deep-learning framework."""

__version__ = "0.1.0"
