"""How ``Module.register_full_backward_hook`` and ``register_full_backward_pre_hook`` see a
module's gradients: the whole tuple of gradients with respect to its outputs
(``grad_output``) and to its positional inputs (``grad_input``), at once, as PyTorch's.

tinylm's Functions have one output each, so a call of a hooked module is bracketed by two
*gathers* made of two small Functions:

* :class:`Gather` joins several tensors into one 0-d stand-in ``J`` (its value is unused);
* :class:`Slot` hands one of them on again (the same values), as a tensor computed from ``J``.

Inputs ``x_i`` → ``J = Gather(x_1 … x_n)`` → ``w_i = Slot(J)`` are what ``forward`` gets;
its outputs ``o_j`` → ``K = Gather(o_1 … o_m)`` → ``p_j = Slot(K)`` are what the caller gets.
In backward, every ``Slot`` runs before its ``Gather`` (a Gather's output is each Slot's
input), so a Slot's backward only files its incoming gradient g in the call's
:class:`BackwardHookCall` and passes 0 to the stand-in; the Gather's backward then has them
all: K's calls the pre-hooks (which may replace grad_output) and returns grad_output as the
outputs' gradients; J's calls the hooks (which may replace grad_input) and returns grad_input
as the inputs' gradients. The derivative of both Functions is the identity: dL/dx = g.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from tinylm.autograd import Context, Function, TinyLMError
from tinylm.devices import array_module
from tinylm.tensor import Tensor

__all__ = ["BackwardHookCall", "Gather", "Slot"]


class Gather(Function):
    """A 0-d stand-in computed from several tensors; its backward asks ``call`` for their
    gradients (``side`` "input" or "output"): y = 0, dL/dx_i = the gradient filed for i."""

    @staticmethod
    def forward(ctx: Context, *arrays: Any, call: BackwardHookCall, side: str) -> Any:
        ctx.call, ctx.side = call, side
        return array_module(arrays[0]).zeros((), dtype=arrays[0].dtype)

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        grads = ctx.call.finish(ctx.side)
        return grads if len(grads) != 1 else grads[0]


class Slot(Function):
    """One tensor handed on through a stand-in: y = ``value`` (the tensor's array);
    backward files g as gradient ``index`` of ``side`` in ``call`` and gives the stand-in 0."""

    @staticmethod
    def forward(
        ctx: Context, joint: Any, *, value: Any, call: BackwardHookCall, side: str, index: int
    ) -> Any:
        ctx.call, ctx.side, ctx.index = call, side, index
        ctx.joint = (joint.shape, joint.dtype)
        return value

    @staticmethod
    def backward(ctx: Context, g: Any) -> Any:
        ctx.call.file(ctx.side, ctx.index, g)
        shape, dtype = ctx.joint
        return array_module(g).zeros(shape, dtype=dtype)


def _as_grads(op: str, result: Any, n: int) -> list[Any]:
    """A hook's returned gradients (a tuple, or one tensor) as n arrays or None."""
    if isinstance(result, Tensor):
        result = (result,)
    if not isinstance(result, tuple | list) or len(result) != n:
        raise TinyLMError(
            f"{op}: a hook must return None or a tuple of {n} gradients (one per "
            f"{'output' if 'pre' in op else 'positional input'}), got {result!r:.80}"
        )
    out = []
    for g in result:
        if g is not None and not isinstance(g, Tensor):
            raise TinyLMError(f"{op}: a hook's gradients must be Tensors or None, got {type(g)}")
        out.append(None if g is None else g.data)
    return out


class BackwardHookCall:
    """The gradients of one call of a module with backward hooks, filed as they arrive.

    Args:
        module: the module (passed to the hooks).
        pre_hooks: ``hook(module, grad_output)`` functions (may return a new grad_output).
        hooks: ``hook(module, grad_input, grad_output)`` functions (may return a new
            grad_input).
    """

    def __init__(
        self, module: Any, pre_hooks: list[Callable[..., Any]], hooks: list[Callable[..., Any]]
    ) -> None:
        self.module, self.pre_hooks, self.hooks = module, pre_hooks, hooks
        self.n_args = 0
        self.input_positions: list[int] = []  # positions of the args that require grad
        self.grads: dict[str, dict[int, Any]] = {"input": {}, "output": {}}
        self.n_outputs = 0
        self.grad_output: tuple[Tensor | None, ...] = ()

    def file(self, side: str, index: int, g: Any) -> None:
        self.grads[side][index] = g

    def wrap_inputs(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        """``args`` with every tensor that requires grad handed on through a Slot."""
        self.n_args = len(args)
        self.input_positions = [
            i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad
        ]
        if not self.input_positions:
            return args
        tensors = [args[i] for i in self.input_positions]
        joint = Gather.apply(*tensors, call=self, side="input")
        new = list(args)
        for k, i in enumerate(self.input_positions):
            new[i] = Slot.apply(joint, value=args[i].data, call=self, side="input", index=k)
        return tuple(new)

    def wrap_outputs(self, output: Any) -> Any:
        """``output`` (a Tensor, or a tuple or list holding some) with each tensor that
        requires grad handed on through a Slot; anything else is returned as it is."""
        single = isinstance(output, Tensor)
        items = [output] if single else output
        if not isinstance(items, tuple | list):
            return output
        positions = [i for i, o in enumerate(items) if isinstance(o, Tensor) and o.requires_grad]
        if not positions:
            return output
        self.n_outputs = len(positions)
        joint = Gather.apply(*[items[i] for i in positions], call=self, side="output")
        new = list(items)
        for k, i in enumerate(positions):
            new[i] = Slot.apply(joint, value=items[i].data, call=self, side="output", index=k)
        return new[0] if single else type(items)(new)

    def finish(self, side: str) -> tuple[Any, ...]:
        """The gradients a Gather passes on: after the hooks of its side have seen them."""
        filed = self.grads[side]
        if side == "output":
            grads = [filed.get(k) for k in range(self.n_outputs)]
            for hook in self.pre_hooks:
                new = hook(self.module, tuple(_wrap(g) for g in grads))
                if new is not None:
                    grads = _as_grads("register_full_backward_pre_hook", new, self.n_outputs)
            self.grad_output = tuple(_wrap(g) for g in grads)
            if not self.input_positions and self.hooks:  # no input gradient will come
                warnings.warn(
                    "Full backward hook is firing when gradients are computed with respect to "
                    "module outputs since no inputs require gradients",
                    stacklevel=2,
                )
                self._call_hooks([None] * self.n_args)
            return tuple(grads)
        per_arg: list[Any] = [None] * self.n_args
        for k, i in enumerate(self.input_positions):
            per_arg[i] = filed.get(k)
        per_arg = self._call_hooks(per_arg)
        return tuple(per_arg[i] for i in self.input_positions)

    def _call_hooks(self, per_arg: list[Any]) -> list[Any]:
        for hook in self.hooks:
            new = hook(self.module, tuple(_wrap(g) for g in per_arg), self.grad_output)
            if new is not None:
                per_arg = _as_grads("register_full_backward_hook", new, self.n_args)
        return per_arg


def _wrap(g: Any) -> Tensor | None:
    return None if g is None else Tensor._wrap(g)
