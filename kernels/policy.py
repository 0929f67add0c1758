"""Policies that more than one place asks about (placeholder until the kernels re-layout lands)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["SAVE_PROBS_MAX", "attention_keeps_probs"]

SAVE_PROBS_MAX = 1 << 22


def attention_keeps_probs(like: Any, b: int, h: int, tq: int, tk: int) -> bool:
    """Does the attention forward keep P (b, h, tq, tk) for the backward?"""
    return type(like) is np.ndarray and b * h * tq * tk <= SAVE_PROBS_MAX
