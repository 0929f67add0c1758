"""``torch.utils.checkpoint`` for ported code: ``checkpoint(function, *args, use_reentrant=…)``
and ``checkpoint_sequential(functions, segments, input, use_reentrant=…)``.

PyTorch's checkpointing saves memory: it keeps only a segment's inputs and recomputes its
activations during backward. tinylm runs the function once and keeps its activations, as a
plain call does, so **no memory is saved**; the outputs and gradients are the same as
calling the function. The arguments are checked as PyTorch checks them, and what PyTorch's
reentrant form does differently is kept: with ``use_reentrant=True``, keyword arguments are
refused, and when no tensor argument requires grad the outputs require none (with PyTorch's
warning), so parameters inside get no gradient.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

from tinylm.autograd import TinyLMError, no_grad
from tinylm.tensor import Tensor

__all__ = ["checkpoint", "checkpoint_sequential"]

_DETERMINISM_CHECKS = ("default", "none")


def _use_reentrant(op: str, use_reentrant: bool | None) -> bool:
    """PyTorch's default (True, with a warning asking to pass it) when not given."""
    if use_reentrant is None:
        warnings.warn(
            f"{op}: the use_reentrant parameter should be passed explicitly (PyTorch asks "
            "for it; its default is True)",
            stacklevel=3,
        )
        return True
    return bool(use_reentrant)


def checkpoint(
    function: Callable[..., Any],
    *args: Any,
    use_reentrant: bool | None = None,
    context_fn: Callable[[], Any] | None = None,
    determinism_check: str = "default",
    debug: bool = False,
    preserve_rng_state: bool = True,
    **kwargs: Any,
) -> Any:
    """``function(*args, **kwargs)``, as PyTorch's activation checkpointing returns it (same
    values, same gradients), without its memory saving (see the module's docstring).

    Args:
        function: any callable (a Module, a function of Tensors).
        use_reentrant: PyTorch's two implementations; True (reentrant) refuses ``kwargs``
            and gives outputs that require no grad when no tensor argument requires grad.
        context_fn: refused (it sets up PyTorch's recomputation, which tinylm does not do);
            only accepted with ``use_reentrant=False`` in PyTorch too.
        determinism_check: "default" or "none" (nothing is recomputed to compare).
        debug, preserve_rng_state: accepted (nothing is recomputed).
    """
    op = "checkpoint"
    reentrant = _use_reentrant(op, use_reentrant)
    if not callable(function):
        raise TinyLMError(f"{op}: function must be callable, got {type(function).__name__}")
    if determinism_check not in _DETERMINISM_CHECKS:
        raise TinyLMError(
            f"{op}: determinism_check must be one of {_DETERMINISM_CHECKS}, got "
            f"{determinism_check!r}"
        )
    if reentrant and (context_fn is not None or debug):
        raise TinyLMError(f"{op}: context_fn and debug are only supported with use_reentrant=False")
    if context_fn is not None:
        raise TinyLMError(
            f"{op}: context_fn is not supported: tinylm keeps the activations instead of "
            "recomputing them, so there is no recomputation to wrap"
        )
    if reentrant:
        if kwargs:
            raise TinyLMError(
                f"{op}: keyword arguments ({', '.join(kwargs)}) are not supported with "
                "use_reentrant=True, as in PyTorch; pass use_reentrant=False"
            )
        if not any(isinstance(a, Tensor) and a.requires_grad for a in args):
            warnings.warn(
                "None of the inputs have requires_grad=True. Gradients will be None",
                stacklevel=2,
            )
            with no_grad():
                return function(*args)
    return function(*args, **kwargs)


def checkpoint_sequential(
    functions: Any,
    segments: int,
    input: Any,
    use_reentrant: bool | None = None,
    **kwargs: Any,
) -> Any:
    """The modules of ``functions`` (a ``Sequential``, or a list of callables) applied in
    order to ``input``, checkpointed in ``segments`` pieces in PyTorch (here: see the
    module's docstring). As PyTorch's, each segment but the last is one :func:`checkpoint`
    call (so the reentrant form's rules apply to them) and the last is a plain call; the
    only keyword argument is ``preserve_rng_state``.

    Shapes: whatever the modules take and give.
    """
    op = "checkpoint_sequential"
    reentrant = _use_reentrant(op, use_reentrant)
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise TinyLMError(f"{op}: unexpected keyword arguments: {', '.join(kwargs)}")
    children = getattr(functions, "children", None)
    steps: Sequence[Any] = list(children()) if callable(children) else list(functions)
    if isinstance(segments, bool) or not isinstance(segments, int) or segments < 1:
        raise TinyLMError(f"{op}: segments must be a positive int, got {segments!r}")
    if segments > len(steps):
        raise TinyLMError(
            f"{op}: {segments} segments for {len(steps)} functions; use at most one per function"
        )
    size = len(steps) // segments
    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(
            _run_steps(steps[start : end + 1]),
            input,
            use_reentrant=reentrant,
            preserve_rng_state=preserve,
        )
    return _run_steps(steps[end + 1 :])(input)  # the last segment is a plain call, as PyTorch's


def _run_steps(steps: Sequence[Any]) -> Callable[[Any], Any]:
    def run(x: Any) -> Any:
        for step in steps:
            x = step(x)
        return x

    return run
