"""The sets a parameter or a value must lie in, as ``torch.distributions.constraints``: each
constraint's ``check(value)`` returns a bool tensor, True where ``value`` is inside.

A constraint with ``event_dim = 1`` (``simplex``, ``one_hot``) judges the last axis as one
event: ``check`` of a (*B, K) tensor gives (*B,). The others judge every element: (*) → (*).
``Distribution.__init__`` checks its parameters against ``arg_constraints`` and ``log_prob``
checks values against ``support`` while ``validate_args`` is on (see ``distribution.py``).
"""

from __future__ import annotations

from typing import Any

from tinylm.autograd import TinyLMError
from tinylm.tensor import Tensor

__all__ = [
    "Constraint",
    "boolean",
    "dependent",
    "greater_than",
    "greater_than_eq",
    "half_open_interval",
    "independent",
    "integer_interval",
    "interval",
    "is_dependent",
    "less_than",
    "nonnegative",
    "nonnegative_integer",
    "one_hot",
    "positive",
    "real",
    "real_vector",
    "simplex",
    "unit_interval",
]


def _show(bound: Any) -> str:
    """A bound in a one-line message: a number as itself, a tensor by its shape."""
    if isinstance(bound, Tensor) and bound.numel() != 1:
        return f"<tensor of shape {tuple(bound.shape)}>"
    return repr(bound.item() if isinstance(bound, Tensor) else bound)


class Constraint:
    """A set of values. ``is_discrete``: its values are integers (or one-hot rows);
    ``event_dim``: how many rightmost axes form one value."""

    is_discrete = False
    event_dim = 0

    def check(self, value: Tensor) -> Tensor:
        """A bool tensor, True where ``value`` lies in the set (shape: value's, without
        the rightmost ``event_dim`` axes)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__.lstrip('_')}()"


class _Dependent(Constraint):
    """A set that depends on other parameters (Uniform's bounds): never checked itself."""

    def check(self, value: Tensor) -> Tensor:
        raise TinyLMError("constraints.dependent: cannot determine validity of a dependent set")


class _Real(Constraint):
    """Every real number, ±inf included; not NaN."""

    def check(self, value: Tensor) -> Tensor:
        return value == value


class _Boolean(Constraint):
    """{0, 1}."""

    is_discrete = True

    def check(self, value: Tensor) -> Tensor:
        return (value == 0) | (value == 1)


class _OneHot(Constraint):
    """Rows of 0s and 1s with a single 1 (last axis)."""

    is_discrete = True
    event_dim = 1

    def check(self, value: Tensor) -> Tensor:
        return ((value == 0) | (value == 1)).all(-1) & (value.sum(-1) == 1)


class _IntegerInterval(Constraint):
    """The integers lower_bound, …, upper_bound."""

    is_discrete = True

    def __init__(self, lower_bound: Any, upper_bound: Any) -> None:
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def check(self, value: Tensor) -> Tensor:
        return (value % 1 == 0) & (value >= self.lower_bound) & (value <= self.upper_bound)

    def __repr__(self) -> str:
        return (
            f"IntegerInterval(lower_bound={_show(self.lower_bound)}, "
            f"upper_bound={_show(self.upper_bound)})"
        )


class _IntegerGreaterThan(Constraint):
    """The integers lower_bound, lower_bound + 1, …"""

    is_discrete = True

    def __init__(self, lower_bound: Any) -> None:
        self.lower_bound = lower_bound

    def check(self, value: Tensor) -> Tensor:
        return (value % 1 == 0) & (value >= self.lower_bound)

    def __repr__(self) -> str:
        return f"IntegerGreaterThan(lower_bound={_show(self.lower_bound)})"


class _GreaterThan(Constraint):
    """(lower_bound, ∞)."""

    def __init__(self, lower_bound: Any) -> None:
        self.lower_bound = lower_bound

    def check(self, value: Tensor) -> Tensor:
        return value > self.lower_bound

    def __repr__(self) -> str:
        return f"{type(self).__name__.lstrip('_')}(lower_bound={_show(self.lower_bound)})"


class _GreaterThanEq(_GreaterThan):
    """[lower_bound, ∞)."""

    def check(self, value: Tensor) -> Tensor:
        return value >= self.lower_bound


class _LessThan(Constraint):
    """(−∞, upper_bound)."""

    def __init__(self, upper_bound: Any) -> None:
        self.upper_bound = upper_bound

    def check(self, value: Tensor) -> Tensor:
        return value < self.upper_bound

    def __repr__(self) -> str:
        return f"LessThan(upper_bound={_show(self.upper_bound)})"


class _Interval(Constraint):
    """[lower_bound, upper_bound]."""

    def __init__(self, lower_bound: Any, upper_bound: Any) -> None:
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def check(self, value: Tensor) -> Tensor:
        return (value >= self.lower_bound) & (value <= self.upper_bound)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__.lstrip('_')}(lower_bound={_show(self.lower_bound)}, "
            f"upper_bound={_show(self.upper_bound)})"
        )


class _HalfOpenInterval(_Interval):
    """[lower_bound, upper_bound)."""

    def check(self, value: Tensor) -> Tensor:
        return (value >= self.lower_bound) & (value < self.upper_bound)


class _Simplex(Constraint):
    """Rows (last axis) of non-negative numbers that sum to 1 (within 1e-6, as PyTorch)."""

    event_dim = 1

    def check(self, value: Tensor) -> Tensor:
        return (value >= 0).all(-1) & ((value.sum(-1) - 1).abs() < 1e-6)


class _IndependentConstraint(Constraint):
    """``base`` for every element of the rightmost ``reinterpreted_batch_ndims`` axes, as one
    value: check of (*B, *E) gives (*B,)."""

    def __init__(self, base_constraint: Constraint, reinterpreted_batch_ndims: int) -> None:
        if not isinstance(base_constraint, Constraint):
            raise TinyLMError(
                f"constraints.independent: base_constraint must be a Constraint, got "
                f"{type(base_constraint).__name__}"
            )
        if not isinstance(reinterpreted_batch_ndims, int) or reinterpreted_batch_ndims < 0:
            raise TinyLMError(
                "constraints.independent: reinterpreted_batch_ndims must be an int >= 0, got "
                f"{reinterpreted_batch_ndims!r}"
            )
        self.base_constraint = base_constraint
        self.reinterpreted_batch_ndims = reinterpreted_batch_ndims

    @property
    def is_discrete(self) -> bool:  # type: ignore[override]
        return self.base_constraint.is_discrete

    @property
    def event_dim(self) -> int:  # type: ignore[override]
        return self.base_constraint.event_dim + self.reinterpreted_batch_ndims

    def check(self, value: Tensor) -> Tensor:
        result = self.base_constraint.check(value)
        n = self.reinterpreted_batch_ndims
        if result.dim() < n:
            raise TinyLMError(
                f"constraints.independent: expected a value of at least {self.event_dim} "
                f"dims, got shape {tuple(value.shape)}"
            )
        if n:
            result = result.reshape(tuple(result.shape[: result.dim() - n]) + (-1,)).all(-1)
        return result

    def __repr__(self) -> str:
        return f"IndependentConstraint({self.base_constraint!r}, {self.reinterpreted_batch_ndims})"


def is_dependent(constraint: Any) -> bool:
    """True for a constraint that depends on other parameters and cannot be checked alone."""
    return isinstance(constraint, _Dependent)


dependent = _Dependent()
real = _Real()
boolean = _Boolean()
one_hot = _OneHot()
positive = _GreaterThan(0.0)
nonnegative = _GreaterThanEq(0.0)
nonnegative_integer = _IntegerGreaterThan(0)
unit_interval = _Interval(0.0, 1.0)
simplex = _Simplex()
real_vector = _IndependentConstraint(real, 1)
independent = _IndependentConstraint
integer_interval = _IntegerInterval
greater_than = _GreaterThan
greater_than_eq = _GreaterThanEq
less_than = _LessThan
interval = _Interval
half_open_interval = _HalfOpenInterval
