"""``Distribution``: the base class of PyTorch's probability distributions.

A distribution holds a *batch* of independent distributions (``batch_shape``), each over
values of ``event_shape``; ``sample(sample_shape)`` returns a tensor of shape
``sample_shape + batch_shape + event_shape`` and ``log_prob(value)`` one log-density per
value, of shape ``value.shape[:-len(event_shape)]`` broadcast against ``batch_shape``.

With ``validate_args`` (on by default, as PyTorch's ``__debug__``) the constructor checks
every parameter against ``arg_constraints`` and ``log_prob`` checks the value against
``support``, each failure one line (a ``TinyLMError``, which is a ``ValueError`` as PyTorch's).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tinylm.autograd import TinyLMError, no_grad
from tinylm.distributions import constraints
from tinylm.distributions.utils import lazy_property
from tinylm.tensor import Tensor

__all__ = ["Distribution"]


def as_shape(op: str, shape: Any) -> tuple[int, ...]:
    """A shape argument (tuple, list, tinylm.Size) as a tuple of ints; refuses the rest."""
    if isinstance(shape, Tensor) or not isinstance(shape, Sequence) or isinstance(shape, str):
        raise TypeError(
            f"{op}: the shape must be a tuple of ints (torch.Size), e.g. (5,), got {shape!r:.60}"
        )
    out = tuple(shape)
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in out):
        raise TypeError(f"{op}: the shape must hold non-negative ints, got {out!r:.60}")
    return out


class Distribution:
    """The base of every distribution (``torch.distributions.Distribution``).

    Subclasses set ``arg_constraints`` ({parameter name: constraint}), ``support``,
    ``has_rsample``, ``has_enumerate_support``, and implement what they can of ``rsample``
    or ``sample``, ``log_prob``, ``entropy``, ``mean``, ``mode``, ``variance``, ``cdf``,
    ``icdf``, ``enumerate_support`` and ``expand``.
    """

    has_rsample = False
    has_enumerate_support = False
    _validate_args = __debug__

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        """Turn argument validation on or off for every distribution made afterwards."""
        if value not in (True, False):
            raise TinyLMError(f"set_default_validate_args: expects True or False, got {value!r}")
        Distribution._validate_args = value

    def __init__(
        self,
        batch_shape: Sequence[int] = (),
        event_shape: Sequence[int] = (),
        validate_args: bool | None = None,
    ) -> None:
        self._batch_shape = tuple(batch_shape)
        self._event_shape = tuple(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if not self._validate_args:
            return
        for param, constraint in self.arg_constraints.items():
            if constraints.is_dependent(constraint):
                continue  # a set defined by other parameters: nothing to check alone
            if param not in self.__dict__ and isinstance(getattr(type(self), param), lazy_property):
                continue  # computed from the parameter that was given, which is checked
            value = getattr(self, param)
            if not bool(constraint.check(value).all().item()):
                raise TinyLMError(
                    f"{type(self).__name__}: expected parameter {param} (Tensor of shape "
                    f"{tuple(value.shape)}) to satisfy the constraint {constraint!r}, but found "
                    "invalid values"
                )

    # ---- shapes ------------------------------------------------------------------------

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """The shape over which parameters are batched."""
        return self._batch_shape

    @property
    def event_shape(self) -> tuple[int, ...]:
        """The shape of a single sample (without batching)."""
        return self._event_shape

    def _extended_shape(self, sample_shape: Sequence[int] = ()) -> tuple[int, ...]:
        """sample_shape + batch_shape + event_shape: the shape of ``sample(sample_shape)``."""
        return as_shape("sample", sample_shape) + self._batch_shape + self._event_shape

    def expand(self, batch_shape: Sequence[int], _instance: Any = None) -> Distribution:
        """A distribution with its parameters expanded (no copy) to ``batch_shape``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement expand")

    def _get_checked_instance(self, cls: type, _instance: Any = None) -> Any:
        if _instance is None and type(self).__init__ != cls.__init__:
            raise NotImplementedError(
                f"Subclass {type(self).__name__} of {cls.__name__} that defines a custom "
                "__init__ method must also define a custom .expand() method."
            )
        return self.__new__(type(self)) if _instance is None else _instance

    # ---- what subclasses define ----------------------------------------------------------

    @property
    def arg_constraints(self) -> dict[str, constraints.Constraint]:
        """{parameter name: the constraint it must satisfy}."""
        return {}

    @property
    def support(self) -> constraints.Constraint:
        """The set of values ``log_prob`` accepts."""
        raise NotImplementedError(f"{type(self).__name__} does not implement support")

    @property
    def mean(self) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not implement mean")

    @property
    def mode(self) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not implement mode")

    @property
    def variance(self) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not implement variance")

    @property
    def stddev(self) -> Tensor:
        """√variance, batch_shape + event_shape."""
        return self.variance.sqrt()

    def sample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """A draw of shape sample_shape + batch_shape + event_shape, outside the graph."""
        with no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape: Sequence[int] = ()) -> Tensor:
        """A reparameterised draw: differentiable in the parameters."""
        raise NotImplementedError(
            f"{type(self).__name__} does not implement rsample (has_rsample is False)"
        )

    def log_prob(self, value: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not implement log_prob")

    def cdf(self, value: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not implement cdf")

    def icdf(self, value: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not implement icdf")

    def enumerate_support(self, expand: bool = True) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not implement enumerate_support")

    def entropy(self) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not implement entropy")

    def perplexity(self) -> Tensor:
        """exp(entropy), batch_shape."""
        return self.entropy().exp()

    # ---- checks --------------------------------------------------------------------------

    def _validate_sample(self, value: Any) -> None:
        """Refuse, in one line, a value that is not a Tensor, whose rightmost axes are not
        ``event_shape``, that does not broadcast with batch_shape + event_shape, or that lies
        outside ``support``."""
        name = type(self).__name__
        if not isinstance(value, Tensor):
            raise TinyLMError(
                f"{name}: the value argument to log_prob must be a Tensor, got "
                f"{type(value).__name__}"
            )
        shape = tuple(value.shape)
        n = len(self._event_shape)
        if shape[len(shape) - n :] != self._event_shape:
            raise TinyLMError(
                f"{name}: the right-most size of value must match event_shape: {shape} vs "
                f"{self._event_shape}"
            )
        expected = self._batch_shape + self._event_shape
        for i, j in zip(reversed(shape), reversed(expected)):
            if i != 1 and j != 1 and i != j:
                raise TinyLMError(
                    f"{name}: value of shape {shape} is not broadcastable with "
                    f"batch_shape + event_shape {expected}"
                )
        if not bool(self.support.check(value).all().item()):
            raise TinyLMError(
                f"{name}: expected value argument (Tensor of shape {shape}) to be within the "
                f"support ({self.support!r}) of the distribution, but found invalid values"
            )

    def __repr__(self) -> str:
        shown = []
        for p in self.arg_constraints:
            if p in self.__dict__:
                v = self.__dict__[p]
                shown.append(f"{p}: {v.item() if v.numel() == 1 else tuple(v.shape)}")
        return f"{type(self).__name__}({', '.join(shown)})"
