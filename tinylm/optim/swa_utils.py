"""Weight averaging as PyTorch 2.13's ``torch.optim.swa_utils``: stochastic weight averaging
(SWA, Izmailov et al., 2018) and exponential moving averages (EMA) of a model's weights.

* :class:`AveragedModel` — a deep copy of a model whose parameters are the running average
  of the model's parameters over the calls to ``update_parameters(model)``;
* the averaging rules it takes: :func:`get_swa_avg_fn` / :func:`get_ema_avg_fn` (one tensor
  at a time, returning the new average) and :func:`get_swa_multi_avg_fn` /
  :func:`get_ema_multi_avg_fn` (lists of tensors, updated in place);
* :class:`SWALR` — anneals each group's lr to a constant ``swa_lr`` for the averaging phase;
* :func:`update_bn` — recomputes BatchNorm running statistics for the averaged weights.

An SWA run: train as usual, then from some epoch on call ``swa_model.update_parameters(model)``
after every epoch (and ``swa_scheduler.step()``); at the end ``update_bn(loader, swa_model)``
and evaluate ``swa_model(x)``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from tinylm.autograd import TinyLMError, no_grad
from tinylm.devices import device_of, device_type, to_device_array
from tinylm.dtypes import is_floating_point
from tinylm.nn.layers import BatchNorm1d
from tinylm.nn.module import Module
from tinylm.optim.lr_scheduler import LRScheduler
from tinylm.optim.optimizer import Optimizer
from tinylm.tensor import Tensor

__all__ = [
    "SWALR",
    "AveragedModel",
    "get_ema_avg_fn",
    "get_ema_multi_avg_fn",
    "get_swa_avg_fn",
    "get_swa_multi_avg_fn",
    "update_bn",
]

TensorList = Sequence[Tensor]


def _lerp_(start: Tensor, end: Tensor, weight: float) -> None:
    """start ← start + w (end − start), written into ``start`` (no graph), in PyTorch's two
    forms: for w ≥ ½ it is end − (end − start)(1 − w), exact at w = 1."""
    a, b = start.data, end.data
    if weight < 0.5:
        new = a + weight * (b - a)
    else:
        new = b - (b - a) * (1.0 - weight)
    start.copy_(new)


def _check_decay(name: str, decay: float) -> None:
    if not 0.0 <= decay <= 1.0:
        raise TinyLMError(f"{name}: decay must be in [0, 1], got {decay}")


def get_ema_multi_avg_fn(decay: float = 0.999) -> Callable[[TensorList, TensorList, Any], None]:
    """The EMA rule for lists of tensors, in place: W_ema ← decay · W_ema + (1 − decay) · W
    (as ``lerp_`` towards W by 1 − decay). Integer tensors (a BatchNorm's batch count with
    ``use_buffers``) get the result truncated towards 0, as PyTorch's ``copy_`` does."""
    _check_decay("get_ema_multi_avg_fn", decay)

    def ema_update(ema_params: TensorList, current_params: TensorList, num_averaged: Any) -> None:
        with no_grad():
            if is_floating_point(ema_params[0].dtype):
                for ema, current in zip(ema_params, current_params, strict=True):
                    _lerp_(ema, current, 1 - decay)
            else:
                for ema, current in zip(ema_params, current_params, strict=True):
                    ema.copy_(ema * decay + current * (1 - decay))

    return ema_update


def get_swa_multi_avg_fn() -> Callable[[TensorList, TensorList, Any], None]:
    """The SWA rule for lists of tensors, in place: W_swa ← W_swa + (W − W_swa) / (n + 1), the
    mean of the n + 1 models seen (``lerp_`` towards W by 1 / (n + 1)).

    As PyTorch's: when n is a tensor (AveragedModel passes its ``n_averaged``), 1 / (n + 1)
    is computed as a tensor of the default float dtype (float32 unless
    ``set_default_dtype``), so float64 weights move by that rounded fraction. Integer
    tensors are refused (PyTorch's raises too)."""

    def swa_update(averaged: TensorList, current_params: TensorList, num_averaged: Any) -> None:
        if not is_floating_point(averaged[0].dtype):
            raise TinyLMError(
                f"get_swa_multi_avg_fn: cannot average {averaged[0].dtype} tensors in place "
                "(PyTorch refuses integer tensors too); average parameters only "
                "(use_buffers=False) or use get_swa_avg_fn"
            )
        if isinstance(num_averaged, Tensor):
            weight = float((1 / (num_averaged + 1)).item())
        else:
            weight = 1 / (num_averaged + 1)
        with no_grad():
            for avg, current in zip(averaged, current_params, strict=True):
                _lerp_(avg, current, weight)

    return swa_update


def get_ema_avg_fn(decay: float = 0.999) -> Callable[[Tensor, Tensor, Any], Tensor]:
    """The EMA rule for one tensor: returns decay · W_ema + (1 − decay) · W."""
    _check_decay("get_ema_avg_fn", decay)

    def ema_update(ema_param: Tensor, current_param: Tensor, num_averaged: Any) -> Tensor:
        with no_grad():
            return decay * ema_param + (1 - decay) * current_param

    return ema_update


def get_swa_avg_fn() -> Callable[[Tensor, Tensor, Any], Tensor]:
    """The SWA rule for one tensor: returns W_swa + (W − W_swa) / (n + 1), n the number of
    models averaged so far (an int or a 0-d integer tensor)."""

    def swa_update(averaged_param: Tensor, current_param: Tensor, num_averaged: Any) -> Tensor:
        with no_grad():
            return averaged_param + (current_param - averaged_param) / (num_averaged + 1)

    return swa_update


class AveragedModel(Module):
    """A copy of ``model`` holding the running average of its weights, as PyTorch's.

    ``update_parameters(model)``: the first call copies the model's parameters; the k-th
    call (k ≥ 2, with n = k − 1 models averaged so far, the ``n_averaged`` buffer) sets
    each averaged parameter to ``avg_fn(W_avg, W, n)`` (one tensor at a time), or calls
    ``multi_avg_fn(averaged list, model list, n)`` once per device and dtype, or, with
    neither, to the plain mean W_avg + (W − W_avg) / (n + 1) (SWA). Buffers (a
    BatchNorm's running statistics) are copied from the model, or averaged as well with
    ``use_buffers=True``. Calling the averaged model calls the copy; its state dict has
    ``n_averaged`` and the copy's entries under ``module.``, as PyTorch's.

    ``device``: where the copy lives ("cpu", "cuda"); the model's tensors are moved there
    at each update.
    """

    def __init__(
        self,
        model: Module,
        device: Any = None,
        avg_fn: Callable[[Tensor, Tensor, Any], Tensor] | None = None,
        multi_avg_fn: Callable[[TensorList, TensorList, Any], None] | None = None,
        use_buffers: bool = False,
    ) -> None:
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise TinyLMError("AveragedModel: give avg_fn or multi_avg_fn, not both")
        if not isinstance(model, Module):
            raise TypeError(f"AveragedModel: expected an nn.Module, got {type(model).__name__}")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        count = Tensor(np.array(0, dtype=np.int64))
        self.register_buffer("n_averaged", count if device is None else count.to(device))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The averaged copy's forward."""
        return self.module(*args, **kwargs)

    def _pairs(self, model: Module) -> list[tuple[Tensor, Tensor]]:
        """(averaged, model) tensor pairs, detached: parameters (and buffers, with
        ``use_buffers``), the model's moved to the copy's device."""
        if self.use_buffers:
            mine = [*self.module.parameters(), *self.module.buffers()]
            theirs = [*model.parameters(), *model.buffers()]
        else:
            mine, theirs = list(self.parameters()), list(model.parameters())
        if len(mine) != len(theirs):
            what = "parameters and buffers" if self.use_buffers else "parameters"
            raise TinyLMError(
                f"AveragedModel.update_parameters: the model has {len(theirs)} {what}, the "
                f"averaged copy {len(mine)}; pass the model it was made from"
            )
        return [
            (a.detach(), Tensor(to_device_array(b.detach().data, device_of(a.data))))
            for a, b in zip(mine, theirs)
        ]

    def update_parameters(self, model: Module) -> None:
        """Average ``model``'s current weights into this copy (see the class docstring)."""
        pairs = self._pairs(model)
        n = self.n_averaged.detach()
        with no_grad():
            if int(n.item()) == 0:
                for averaged, current in pairs:
                    averaged.copy_(current)
            elif self.multi_avg_fn is not None or self.avg_fn is None:
                groups: dict[tuple[str, Any], list[tuple[Tensor, Tensor]]] = {}
                for averaged, current in pairs:
                    key = (str(device_of(averaged.data)), averaged.dtype)
                    groups.setdefault(key, []).append((averaged, current))
                for group in groups.values():
                    averaged_list = [a for a, _ in group]
                    current_list = [c for _, c in group]
                    if self.multi_avg_fn is not None:
                        self.multi_avg_fn(averaged_list, current_list, n)
                    elif device_type(averaged_list[0].data) == "cuda":  # PyTorch's choice too
                        get_swa_multi_avg_fn()(averaged_list, current_list, n)
                    else:
                        swa = get_swa_avg_fn()
                        for averaged, current in group:
                            averaged.copy_(swa(averaged, current, n))
            else:
                for averaged, current in pairs:
                    averaged.copy_(self.avg_fn(averaged, current, n))
            if not self.use_buffers:
                mine, theirs = list(self.module.buffers()), list(model.buffers())
                if len(mine) != len(theirs):
                    raise TinyLMError(
                        f"AveragedModel.update_parameters: the model has {len(theirs)} buffers, "
                        f"the averaged copy {len(mine)}"
                    )
                for b_avg, b_model in zip(mine, theirs):
                    b_avg.copy_(to_device_array(b_model.detach().data, device_of(b_avg.data)))
            self.n_averaged.add_(1)


def update_bn(loader: Iterable[Any], model: Module, device: Any = None) -> None:
    """Recompute the running mean and variance of every ``BatchNorm1d`` in ``model`` with one
    pass over ``loader``, as PyTorch's: the statistics are reset and then averaged over all
    batches with equal weight (``momentum=None`` for the pass; each layer's momentum and the
    model's train/eval mode are restored after). A batch is a tensor, or a list or tuple
    whose first element is the input; ``device`` moves it first. No gradients are recorded.
    """
    momenta: dict[BatchNorm1d, float | None] = {}
    for module in model.modules():
        if isinstance(module, BatchNorm1d):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    with no_grad():
        for batch in loader:
            if isinstance(batch, list | tuple):
                batch = batch[0]
            if device is not None:
                batch = batch.to(device)
            model(batch)
    for module, momentum in momenta.items():
        module.momentum = momentum
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneal every group's lr from its current value to ``swa_lr`` over ``anneal_epochs``
    steps, then hold it there, as PyTorch's. With a(t) = t (``"linear"``) or
    (1 − cos πt) / 2 (``"cos"``) and s the steps made since creation (0 at creation;
    s ≥ 1 when ``anneal_epochs`` is 0):

        t = clamp(s / max(1, anneal_epochs), 0, 1)
        lr_s = a(t) · swa_lr + (1 − a(t)) · lr₀

    where lr₀ is recovered from the group's current lr and the previous step's a (so the
    schedule starts from wherever an earlier scheduler left the lr). ``swa_lr`` is one
    value or one per group, stored in each group as ``"swa_lr"``.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        swa_lr: float | Sequence[float],
        anneal_epochs: int = 10,
        anneal_strategy: str = "cos",
        last_epoch: int = -1,
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"SWALR: expected an Optimizer, got {type(optimizer)}")
        n = len(optimizer.param_groups)
        swa_lrs = list(swa_lr) if isinstance(swa_lr, list | tuple) else [swa_lr] * n
        if len(swa_lrs) != n:
            raise TinyLMError(f"SWALR: got {len(swa_lrs)} swa_lr values for {n} groups")
        if anneal_strategy not in ("cos", "linear"):
            raise TinyLMError(
                f"SWALR: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}"
            )
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise TinyLMError(f"SWALR: anneal_epochs must be an int ≥ 0, got {anneal_epochs!r}")
        for value, group in zip(swa_lrs, optimizer.param_groups):
            group["swa_lr"] = value
        self.anneal_epochs = anneal_epochs
        self._anneal_strategy = anneal_strategy
        super().__init__(optimizer, last_epoch)

    def anneal_func(self, t: float) -> float:
        """The share a(t) of ``swa_lr`` at the fraction t ∈ [0, 1] of the annealing."""
        if self._anneal_strategy == "cos":
            return (1 - math.cos(math.pi * t)) / 2
        return t

    def get_lr(self) -> list[float]:
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        span = max(1, self.anneal_epochs)
        prev_alpha = self.anneal_func(max(0, min(1, (step - 1) / span)))
        alpha = self.anneal_func(max(0, min(1, step / span)))
        lrs = []
        for group in self.optimizer.param_groups:
            swa_lr = group["swa_lr"]
            if prev_alpha == 1:
                start = swa_lr
            else:
                start = (group["lr"] - prev_alpha * swa_lr) / (1 - prev_alpha)
            lrs.append(swa_lr * alpha + start * (1 - alpha))
        return lrs
