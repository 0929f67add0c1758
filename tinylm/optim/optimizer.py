"""The ``Optimizer`` base class: parameter groups, per-parameter state, state dicts.

An optimizer holds ``param_groups``, a list of dicts, each with a list of parameters
under ``"params"`` and its own hyper-parameters (``"lr"``, ``"weight_decay"`` …), as in
PyTorch. Groups let one optimizer treat parameters differently — the usual case being
no weight decay on biases and LayerNorm weights (see :func:`weight_decay_groups`).

``step()`` reads each parameter's ``.grad`` and updates ``.data`` in place, under
``no_grad`` (an update is not part of the model's computation), and bumps the parameter's
version counter, so that backward through a graph built before the step raises instead of
using the updated values.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from tinylm.autograd import TinyLMError, enable_grad, no_grad
from tinylm.devices import array_module, device_of, to_device_array
from tinylm.dtypes import get_default_dtype
from tinylm.ops.fused_multiply_add import fma_lerp
from tinylm.tensor import Tensor, increment_version

__all__ = [
    "Optimizer",
    "apply_weight_decay",
    "check_adam_group",
    "check_implementation_flags",
    "init_state",
    "lerp_",
    "weight_decay_groups",
]


class Optimizer:
    """Base class: subclasses implement ``_update(p, grad, state, group)``.

    Args:
        params: an iterable of parameters, or of dicts ``{"params": [...], **options}``.
        defaults: hyper-parameters used by groups that do not set their own.
    """

    #: True for an optimizer whose update can meet inf or nan (an inf gradient divided by
    #: its running inf, 0 · inf): ``step`` then updates under ``np.errstate(all="ignore")``,
    #: silent as PyTorch's, where NumPy would warn (one ``with`` a step, ~0.7 µs)
    silences_fp_warnings = False
    #: the per-parameter state kept as Python numbers (``state_dict`` gives 0-d tensors)
    _number_state: tuple[str, ...] = ("step",)

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.state: dict[Tensor, dict[str, Any]] = {}  # keyed by parameter (hash = identity)
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError(
                f"{type(self).__name__}: params must be an iterable of tensors (e.g. "
                "model.parameters() or [w]), not a single tensor"
            )
        params = list(params)
        if not params:
            raise TinyLMError(f"{type(self).__name__}: got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a group of parameters with its own options (missing ones from ``defaults``)."""
        group = dict(group)
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__}: can only optimize Tensors, got {type(p)}")
            if not p.is_leaf:
                raise TinyLMError(
                    f"{type(self).__name__}: a tensor of shape {p.shape} is not a leaf tensor "
                    "(it is computed from others), so it cannot be optimized"
                )
            if id(p) in seen:
                raise TinyLMError(
                    f"{type(self).__name__}: a parameter of shape {p.shape} appears in more "
                    "than one place; each parameter may belong to one group only"
                )
            seen.add(id(p))
        group["params"] = params
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._check_group(group)
        self.param_groups.append(group)

    def _check_group(self, group: dict[str, Any]) -> None:
        """Validate a group's hyper-parameters (subclasses add their own checks)."""
        if group["lr"] < 0:
            raise TinyLMError(f"{type(self).__name__}: invalid learning rate {group['lr']}")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient (``None``; or zeros when not ``set_to_none``)."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                elif getattr(
                    p.grad.data.flags, "writeable", True
                ):  # in place: held references see it
                    p.grad.data[...] = 0
                else:
                    p.grad = Tensor._wrap(p._xp.zeros_like(p.data))

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; skip those whose ``.grad`` is None
        (frozen with ``requires_grad=False``, or unused by the loss), as PyTorch does.

        ``closure``, if given, re-evaluates the model and returns the loss (it runs with
        gradients enabled, before the update); its value is returned.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            if self.silences_fp_warnings:
                with np.errstate(all="ignore"):
                    self._update_all()
            else:
                self._update_all()
        return loss

    def _update_all(self) -> None:
        """``_update`` each parameter that has a gradient, as ``step`` describes."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad.data
                if grad.shape != p.shape:
                    raise TinyLMError(
                        f"{type(self).__name__}: gradient shape {grad.shape} does not "
                        f"match parameter shape {p.shape}"
                    )
                self._update(p, grad, self.state.setdefault(p, {}), group)
                # as in PyTorch: a graph that saved p before this step cannot backward
                increment_version(p)

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]):
        raise NotImplementedError

    def _state_shape(self, p: Tensor, key: str) -> tuple[int, ...]:
        """The shape of state array ``key`` of parameter ``p``: the parameter's own, unless a
        subclass keeps smaller statistics (Adafactor's row and column variances)."""
        return p.shape

    # ---- state dicts --------------------------------------------------------------------

    def _all_params(self) -> list[Tensor]:
        return [p for g in self.param_groups for p in g["params"]]

    def state_dict(self) -> dict[str, Any]:
        """Tensors and plain data (numbers, lists) that ``tinylm.save`` can store.

        ``{"state": {index: {name: value}}, "param_groups": [{options, "params": [index]}]}``
        where a parameter's index is its position across all groups, as in PyTorch. As
        there, each state value is a Tensor: the arrays (``exp_avg`` …) in the parameter's
        dtype, ``step`` a 0-d float32 tensor (float64 under a float64 default dtype). Two
        deliberate differences: NAdam's ``mu_product`` and ASGD's ``eta`` and ``mu`` are 0-d
        float64 tensors (tinylm computes them in float64; float32 copies would make a resumed
        run drift), and the tensors are copies on the CPU, so the dict is a snapshot.
        """
        index = {id(p): i for i, p in enumerate(self._all_params())}
        groups = []
        for g in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in g.items() if k != "params"}
            packed["params"] = [index[id(p)] for p in g["params"]]
            groups.append(packed)
        state = {}
        for p, s in self.state.items():
            if id(p) in index and s:
                state[index[id(p)]] = {
                    k: _state_tensor(k, v, k in self._number_state) for k, v in s.items()
                }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyper-parameters and per-parameter state saved by :meth:`state_dict`.

        The optimizer must have been built over the same parameters in the same order;
        group sizes and state shapes are checked, and arrays are moved to each parameter's
        device and dtype. State values may be Tensors (this version's and PyTorch's state
        dicts) or the NumPy arrays and Python numbers of older tinylm checkpoints; the
        optimizer keeps its numbers (``_number_state``) as Python numbers.
        """
        name = type(self).__name__
        groups = state_dict.get("param_groups") if isinstance(state_dict, dict) else None
        if groups is None or "state" not in state_dict:
            raise TinyLMError(f"{name}.load_state_dict: expected keys 'state' and 'param_groups'")
        if len(groups) != len(self.param_groups):
            raise TinyLMError(
                f"{name}.load_state_dict: the state dict has {len(groups)} parameter groups, "
                f"this optimizer has {len(self.param_groups)}"
            )
        for i, (saved, ours) in enumerate(zip(groups, self.param_groups)):
            if len(saved["params"]) != len(ours["params"]):
                raise TinyLMError(
                    f"{name}.load_state_dict: group {i} has {len(saved['params'])} parameters "
                    f"in the state dict but {len(ours['params'])} here"
                )
        params = {
            int(i): p
            for saved, ours in zip(groups, self.param_groups)
            for i, p in zip(saved["params"], ours["params"])
        }
        new_state: dict[Tensor, dict[str, Any]] = {}
        for i, entries in state_dict["state"].items():
            if int(i) not in params:
                raise TinyLMError(f"{name}.load_state_dict: state for unknown parameter {i}")
            p = params[int(i)]
            restored = {}
            for k, v in entries.items():
                if k in self._number_state and hasattr(v, "shape") and not tuple(v.shape):
                    v = float(v.item())  # a 0-d tensor (or array) holding a number
                    v = int(round(v)) if k == "step" else v
                elif hasattr(v, "shape"):
                    raw = v.data if isinstance(v, Tensor) else v
                    if tuple(raw.shape) != self._state_shape(p, k):
                        raise TinyLMError(
                            f"{name}.load_state_dict: state {k!r} of parameter {i} has shape "
                            f"{tuple(raw.shape)}, expected {self._state_shape(p, k)} (the "
                            f"parameter has shape {p.shape})"
                        )
                    v = to_device_array(raw, device_of(p.data)).astype(p.dtype, copy=True)
                restored[k] = v
            new_state[p] = restored
        for saved, ours in zip(groups, self.param_groups):
            for k, v in saved.items():
                if k != "params":
                    ours[k] = tuple(v) if isinstance(ours.get(k), tuple) else copy.deepcopy(v)
        self.state = new_state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(g.items()) if k != "params"]
        return "\n".join(lines) + "\n)"


def _state_tensor(key: str, value: Any, tensor_number: bool) -> Any:
    """One state value as ``state_dict`` gives it, PyTorch's way: an array as a CPU Tensor
    copy; ``step`` as a 0-d tensor of PyTorch's scalar dtype (float64 under a float64
    default dtype, else float32: exact up to 2^24 steps); another number (NAdam's
    ``mu_product``, ASGD's ``eta``, ``mu``) as a 0-d float64 tensor, the precision tinylm
    computes it in (PyTorch's is float32 there, but a float32 copy would make a resumed run
    drift from one never stopped); anything else (None, and the numbers that PyTorch keeps
    as numbers, ``tensor_number`` False: LBFGS's ``n_iter`` …) as it is."""
    if hasattr(value, "shape"):
        return Tensor._wrap(np.array(to_device_array(value, "cpu")))
    number = isinstance(value, int | float | np.integer | np.floating)
    if tensor_number and number and not isinstance(value, bool):
        wide = key != "step" or get_default_dtype() == np.float64
        return Tensor._wrap(np.array(value, dtype=np.float64 if wide else np.float32))
    return value


def weight_decay_groups(module: Any, weight_decay: float) -> list[dict[str, Any]]:
    """Two parameter groups: matrices (ndim ≥ 2: Linear and Embedding weights) with
    ``weight_decay``, everything else (biases, LayerNorm weights) without.

    Decay pulls weights toward 0; for a bias or a LayerNorm gain that only shifts or
    scales a feature, that is a constraint without a purpose (nanoGPT's rule).
    """
    params = [p for p in module.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def check_implementation_flags(name: str, group: dict[str, Any]) -> None:
    """Refuse PyTorch's implementation switches that tinylm has no second implementation for.

    ``foreach`` (one multi-tensor kernel per group), ``capturable`` (CUDA graphs),
    ``differentiable`` (autograd through the update) and ``fused`` (PyTorch's fused kernels)
    must keep their defaults: tinylm updates one parameter at a time, in place, under
    ``no_grad``. ``foreach=False`` and ``fused=False`` are that, so they are accepted.
    """
    if group.get("foreach"):
        raise TinyLMError(
            f"{name}: foreach=True is not supported (tinylm updates one parameter at a time); "
            "leave foreach None or False"
        )
    if group.get("capturable"):
        raise TinyLMError(f"{name}: capturable=True (CUDA graph capture) is not supported")
    if group.get("differentiable"):
        raise TinyLMError(
            f"{name}: differentiable=True (autograd through the update) is not supported"
        )
    if group.get("fused"):
        raise TinyLMError(
            f"{name}: fused=True (PyTorch's fused kernels) is not supported; leave fused None "
            "or False (tinylm's own update runs)"
        )


def check_adam_group(name: str, group: dict[str, Any]) -> None:
    """The checks of an Adam-family group (Adam, AdamW, NAdam, RAdam, Adamax): both betas in
    [0, 1), eps and weight_decay ≥ 0, and PyTorch's implementation switches at their
    defaults (:func:`check_implementation_flags`)."""
    beta1, beta2 = group["betas"]
    if not (0.0 <= beta1 < 1.0 and 0.0 <= beta2 < 1.0):
        raise TinyLMError(f"{name}: betas must be in [0, 1), got {group['betas']}")
    if group["eps"] < 0 or group["weight_decay"] < 0:
        raise TinyLMError(
            f"{name}: eps ({group['eps']}) and weight_decay ({group['weight_decay']}) must be ≥ 0"
        )
    check_implementation_flags(name, group)


def init_state(state: dict[str, Any], param: Any, *arrays: str, **numbers: float) -> None:
    """A parameter's state at its first step, in PyTorch's order: ``step`` = 0, then each
    of ``numbers`` (name=value), then for each name in ``arrays`` zeros of the parameter's
    shape and dtype. ``init_state(state, p, "exp_avg", "exp_avg_sq")`` is Adam's."""
    xp = array_module(param)
    state["step"] = 0
    state.update(numbers)
    for name in arrays:
        state[name] = xp.zeros_like(param)


def apply_weight_decay(
    param: Any, grad: Any, weight_decay: float, *, lr: float = 0.0, decoupled: bool = False
) -> Any:
    """Weight decay λ before an update, returning the gradient to use:
        g + λ θ                  (an L2 term in the loss: PyTorch's ``weight_decay``), or
        θ ← θ (1 − η λ), g       (``decoupled``, AdamW's: θ shrinks in place, g unchanged).
    Nothing happens when λ = 0. ``grad`` itself is never modified (g + λ θ is a new array)."""
    if weight_decay != 0:
        if decoupled:
            param *= 1 - lr * weight_decay
        else:
            grad = grad + weight_decay * param
    return grad


def lerp_(start: Any, end: Any, weight: float) -> None:
    """start ← start + weight · (end − start), in place, as PyTorch's ``lerp_`` (the Adam
    family's first moment, Adafactor's variances) to the last bit: for NumPy float arrays
    :func:`~tinylm.ops.fused_multiply_add.fma_lerp`, the arithmetic of ``tinylm.lerp``
    (from the nearer end, one rounding; the weight in the array's dtype, float16 worked in
    float32); elsewhere (CuPy) the same two forms in two roundings. ``start`` (any shape) and
    ``end`` (broadcastable to it) share a dtype; the second form,
    end − (end − start)(1 − weight) for weight ≥ ½, lands exactly on end at weight 1."""
    xp = array_module(start)
    if xp is np and start.dtype in (np.float16, np.float32, np.float64):
        work = np.float32 if start.dtype == np.float16 else start.dtype
        start[...] = fma_lerp(start.astype(work, copy=False), end.astype(work, copy=False), weight)
    elif weight < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (1.0 - weight)
