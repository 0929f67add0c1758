"""Type and range checks of configuration values, with one error that names the field.

``GPTConfig`` and ``TrainConfig`` (and so every flag of ``tinylm train`` and every key of
its config files) check their fields with these before any work starts, so that a wrong
value is reported as ``TrainConfig: eval_iters must be an integer ≥ 1, got 0`` and not as a
``ZeroDivisionError`` or a ``nan`` loss an hour later.

Each check returns the value converted to the plain Python type (``numpy.float32(0.1)`` →
``0.1``), which is what the configs store and what JSON can write.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection
from typing import Any

from tinylm.autograd import TinyLMError

__all__ = ["ConfigError", "check_bool", "check_choice", "check_float", "check_int", "check_str"]


class ConfigError(TinyLMError):
    """A configuration value of the wrong type or out of range.

    Attributes:
        owner: what holds the value (``"GPTConfig"``, ``"config file run.json"``).
        field: the field's name (``"n_head"``); the CLI turns it into its flag.
        problem: what is wrong, without the field's name (``"must be ≥ 1, got 0"``).
    """

    def __init__(self, owner: str, field: str, problem: str) -> None:
        self.owner, self.field, self.problem = owner, field, problem
        super().__init__(f"{owner}: {field} {problem}")

    def __reduce__(self) -> tuple[Any, ...]:  # picklable, e.g. across pytest-xdist workers
        return (type(self), (self.owner, self.field, self.problem))


def check_int(owner: str, field: str, value: Any, minimum: int | None = None) -> int:
    """``value`` as an ``int`` (bools and floats such as ``20.7`` refused), ≥ ``minimum``."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise ConfigError(owner, field, f"must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(owner, field, f"must be an integer ≥ {minimum}, got {value}")
    return int(value)


def check_float(
    owner: str,
    field: str,
    value: Any,
    minimum: float | None = None,
    below: float | None = None,
    positive: bool = False,
) -> float:
    """``value`` as a finite ``float``; ``minimum`` ≤ value, value < ``below``, value > 0."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise ConfigError(owner, field, f"must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ConfigError(owner, field, f"must be a finite number, got {value}")
    if positive and value <= 0:
        raise ConfigError(owner, field, f"must be > 0, got {value}")
    if minimum is not None and value < minimum:
        raise ConfigError(owner, field, f"must be ≥ {minimum}, got {value}")
    if below is not None and value >= below:
        raise ConfigError(owner, field, f"must be < {below}, got {value}")
    return value


def check_bool(owner: str, field: str, value: Any) -> bool:
    """``value`` if it is ``True`` or ``False`` (not ``"no"``, not ``0``)."""
    if not isinstance(value, bool):
        raise ConfigError(owner, field, f"must be true or false, got {value!r}")
    return value


def check_str(
    owner: str, field: str, value: Any, optional: bool = False, nonempty: bool = True
) -> str | None:
    """``value`` if it is a string (``None`` too when ``optional``); not ``""`` if ``nonempty``."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        kind = "a string or null" if optional else "a string"
        raise ConfigError(owner, field, f"must be {kind}, got {value!r}")
    if nonempty and not value:
        raise ConfigError(owner, field, "must not be empty")
    return value


def check_choice(owner: str, field: str, value: Any, choices: Collection[str]) -> str:
    """``value`` if it is one of ``choices``."""
    if value not in choices:
        raise ConfigError(
            owner, field, f"must be one of {', '.join(map(repr, choices))}; got {value!r}"
        )
    return value
