"""Shared pytest setup: hypothesis profiles (``HYPOTHESIS_PROFILE=ci|dev|thorough``)."""

from tinylm.testing.strategies import register_profiles

register_profiles()
