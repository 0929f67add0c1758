"""Learning-rate schedules: each sets ``group["lr"]`` for every step, from a closed formula
or, as PyTorch's, from the current lr (so schedules compose: ``SequentialLR``,
``ChainedScheduler``).

Call ``scheduler.step()`` once per optimizer step (after ``optimizer.step()``). The
schedule starts at step 0 when it is created, so the first ``optimizer.step()`` already
uses the step-0 learning rate.
"""

from __future__ import annotations

import bisect
import math
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from tinylm.autograd import TinyLMError
from tinylm.optim.optimizer import Optimizer

__all__ = [
    "ChainedScheduler",
    "ConstantLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
    "ExponentialLR",
    "LRScheduler",
    "LambdaLR",
    "LinearLR",
    "MultiStepLR",
    "MultiplicativeLR",
    "OneCycleLR",
    "PolynomialLR",
    "ReduceLROnPlateau",
    "SequentialLR",
    "StepLR",
    "WarmupCosineLR",
    "get_linear_schedule_with_warmup",
    "linear_warmup_decay",
    "warmup_cosine_lr",
]


def _check_resumable(optimizer: Optimizer) -> None:
    """A schedule resumed with ``last_epoch`` ≥ 0 starts from each group's ``"initial_lr"``
    (saved with the optimizer's state dict); a group without one raises PyTorch's
    ``KeyError`` rather than silently starting from the current lr."""
    for i, group in enumerate(optimizer.param_groups):
        if "initial_lr" not in group:
            raise KeyError(
                f"param 'initial_lr' is not specified in param_groups[{i}] when resuming "
                "scheduler with last_epoch >= 0 (load the optimizer's state dict first, or "
                "leave last_epoch at -1 for a fresh run)"
            )


class LRScheduler:
    """Base class: subclasses implement ``lr_at(step, base_lr)`` (a closed form) or
    ``get_lr()`` (PyTorch's chained form, from the groups' current learning rates).

    ``base_lrs`` are the groups' learning rates when the scheduler was created (stored
    in each group as ``"initial_lr"``, like PyTorch, so a resumed run finds them).
    Creating a scheduler makes its first step (to ``last_epoch`` 0); ``get_lr`` sees
    ``_is_initial`` set during that step, as PyTorch's does.

    Resuming (``last_epoch`` ≥ 0) needs every group's ``"initial_lr"`` (from the optimizer's
    loaded state dict); without it the ``KeyError`` is PyTorch's. A resumed schedule's
    creation step keeps the groups' current learning rates where PyTorch's does.
    """

    _is_initial: bool = False

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected an Optimizer, got {type(optimizer)}")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            _check_resumable(optimizer)
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._last_lr: list[float] = []
        self._initial_step()

    def _initial_step(self) -> None:
        """The step made at creation (and by :class:`SequentialLR` when a scheduler starts):
        the step count restarts at 0, and ``get_lr`` sees ``_is_initial``."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def lr_at(self, step: int, base_lr: float) -> float:
        raise NotImplementedError

    def _has_closed_form(self) -> bool:
        return type(self).lr_at is not LRScheduler.lr_at

    def get_lr(self) -> list[float]:
        """The learning rates of the current step (``last_epoch``)."""
        return [self.lr_at(self.last_epoch, base) for base in self.base_lrs]

    def step(self, epoch: int | None = None) -> None:
        """Advance one step and write the new learning rates into the optimizer.

        ``step(epoch)`` (deprecated in PyTorch, kept as there) jumps to ``epoch`` and uses the
        closed form ``lr_at`` where the schedule has one, else ``get_lr``.
        """
        self._step_count += 1
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        """Move ``last_epoch`` (one on, or to ``epoch``) and set the groups' learning rates;
        the step count is left alone (:class:`SequentialLR` restarts a scheduler this way)."""
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            if self._has_closed_form():
                values = [self.lr_at(epoch, base) for base in self.base_lrs]
            else:
                values = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The learning rates set by the latest ``step()`` (one per group)."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """Plain numbers and lists (functions, like LambdaLR's, are left out)."""
        return {
            k: (list(v) if isinstance(v, list) else v)
            for k, v in self.__dict__.items()
            if k != "optimizer" and not callable(v) and k != "lr_lambdas"
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.__dict__.update({k: v for k, v in state_dict.items() if k != "optimizer"})


def _one_function_per_group(
    name: str,
    lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
    optimizer: Optimizer,
) -> list[Callable[[int], float]]:
    """``lr_lambda`` as a list of one function per parameter group: a list or tuple as it
    is (one per group, or an error), a single function repeated for every group."""
    n = len(optimizer.param_groups)
    fns = list(lr_lambda) if isinstance(lr_lambda, list | tuple) else [lr_lambda] * n
    if len(fns) != n:
        raise TinyLMError(f"{name}: got {len(fns)} functions for {n} parameter groups")
    return fns


class LambdaLR(LRScheduler):
    """lr = base_lr · f(step), with one function f, or one per parameter group."""

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        self.lr_lambdas = _one_function_per_group("LambdaLR", lr_lambda, optimizer)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base * f(self.last_epoch) for f, base in zip(self.lr_lambdas, self.base_lrs)]


class StepLR(LRScheduler):
    """lr = base_lr · γ^⌊step / step_size⌋: multiply by γ every ``step_size`` steps."""

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        if step_size <= 0:
            raise TinyLMError(f"StepLR: step_size must be positive, got {step_size}")
        # a float step_size is kept as PyTorch keeps it: γ applies where step % step_size == 0
        self.step_size, self.gamma = step_size, float(gamma)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, step: int, base_lr: float) -> float:
        return base_lr * self.gamma ** (step // self.step_size)

    def get_lr(self) -> list[float]:
        """PyTorch's chained form: the group's current lr, times γ every ``step_size`` steps,
        so a learning rate changed by hand, or by a second scheduler, is built on. A run
        resumed at ``last_epoch`` builds on its current lr too (times γ if its creation step
        falls on a multiple of ``step_size``, as PyTorch's)."""
        groups = self.optimizer.param_groups
        if self.last_epoch == 0 or self.last_epoch % self.step_size:
            return [group["lr"] for group in groups]
        return [group["lr"] * self.gamma for group in groups]


class ExponentialLR(LRScheduler):
    """lr = base_lr · γ^step: multiply by γ every step."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, step: int, base_lr: float) -> float:
        return base_lr * self.gamma**step

    def get_lr(self) -> list[float]:
        """PyTorch's chained form: the group's current lr times γ, so a learning rate changed
        by hand, or by a second scheduler, is built on. The step made when the scheduler is
        created keeps the current lr (of a resumed run too, as PyTorch's)."""
        groups = self.optimizer.param_groups
        if self._is_initial:
            return [group["lr"] for group in groups]
        return [group["lr"] * self.gamma for group in groups]


class LinearLR(LRScheduler):
    """lr = base_lr · f(step), f going linearly from ``start_factor`` at step 0 to
    ``end_factor`` at step ``total_iters`` and staying there: a linear warm-up (or decay)."""

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        if not 0 < start_factor <= 1 or not 0 <= end_factor <= 1:
            raise TinyLMError(
                f"LinearLR: start_factor must be in (0, 1] and end_factor in [0, 1], got "
                f"{start_factor} and {end_factor}"
            )
        self.start_factor, self.end_factor = float(start_factor), float(end_factor)
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def lr_at(self, step: int, base_lr: float) -> float:
        t = min(step, self.total_iters) / self.total_iters if self.total_iters else 1.0
        return base_lr * (self.start_factor + (self.end_factor - self.start_factor) * t)

    def get_lr(self) -> list[float]:
        """PyTorch's chained form: each step multiplies the group's current lr by the ratio
        of this step's factor to the last one's, so an lr set by hand is built on. The
        creation step of a run resumed at ``last_epoch`` ≥ 0 keeps the current lr, as
        PyTorch's."""
        groups, step = self.optimizer.param_groups, self.last_epoch
        if step == 0:
            return [group["lr"] * self.start_factor for group in groups]
        if self._is_initial or step > self.total_iters:
            return [group["lr"] for group in groups]
        span = self.end_factor - self.start_factor
        ratio = 1.0 + span / (self.total_iters * self.start_factor + (step - 1) * span)
        return [group["lr"] * ratio for group in groups]


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin, 2018), as PyTorch's: the lr rises from
    max_lr / div_factor to ``max_lr`` over the first ``pct_start`` of ``total_steps`` and falls
    to max_lr / (div_factor · final_div_factor) over the rest (``three_phase``: back to the
    start first, then down), each leg along half a cosine (``anneal_strategy="cos"``) or a
    line. With ``cycle_momentum`` the momentum (SGD's, or Adam's β₁) moves the opposite way,
    between ``max_momentum`` and ``base_momentum``. Give ``total_steps``, or ``epochs`` and
    ``steps_per_epoch``; stepping past the end is an error, as in PyTorch.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | Sequence[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | Sequence[float] = 0.85,
        max_momentum: float | Sequence[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        # PyTorch's checks: ints for the step counts (bool passes, as there), a float pct_start
        if total_steps is not None:
            if not isinstance(total_steps, int) or total_steps <= 0:
                raise TinyLMError(
                    f"OneCycleLR: total_steps must be a positive int, got {total_steps!r}"
                )
        elif epochs is not None and steps_per_epoch is not None:
            for name, value in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch)):
                if not isinstance(value, int) or value <= 0:
                    raise TinyLMError(f"OneCycleLR: {name} must be a positive int, got {value!r}")
            total_steps = epochs * steps_per_epoch
        else:
            raise TinyLMError("OneCycleLR: give total_steps, or epochs and steps_per_epoch")
        if not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
            raise TinyLMError(f"OneCycleLR: pct_start must be a float in [0, 1], got {pct_start!r}")
        if anneal_strategy not in ("cos", "linear"):
            raise TinyLMError(
                f"OneCycleLR: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}"
            )
        groups = optimizer.param_groups
        n = len(groups)

        def per_group(v: Any) -> list[float]:
            return [float(x) for x in v] if isinstance(v, list | tuple) else [float(v)] * n

        self.total_steps, self.anneal_strategy = total_steps, anneal_strategy
        up = float(pct_start * total_steps) - 1
        if three_phase:
            self._phases = [
                (up, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (float(2 * pct_start * total_steps) - 2, "max_lr", "initial_lr",
                 "base_momentum", "max_momentum"),
                (total_steps - 1.0, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
            ]  # fmt: skip
        else:
            self._phases = [
                (up, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (total_steps - 1.0, "max_lr", "min_lr", "base_momentum", "max_momentum"),
            ]
        self.cycle_momentum = cycle_momentum
        # the optimizer's defaults say which it has (a group may carry stray keys), as PyTorch
        self.use_beta1 = "betas" in optimizer.defaults
        if cycle_momentum and not self.use_beta1 and "momentum" not in optimizer.defaults:
            raise TinyLMError(
                f"OneCycleLR: cycle_momentum needs an optimizer with momentum or betas, "
                f"{type(optimizer).__name__} has neither (pass cycle_momentum=False)"
            )
        if last_epoch == -1:  # a resumed run keeps the values its groups were saved with
            for group, top, lo, hi in zip(
                groups, per_group(max_lr), per_group(base_momentum), per_group(max_momentum)
            ):
                group["initial_lr"] = top / div_factor
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final_div_factor
                if cycle_momentum:
                    self._set_momentum(group, hi)
                    group["max_momentum"], group["base_momentum"] = hi, lo
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, group: dict[str, Any], m: float) -> None:
        if self.use_beta1:
            group["betas"] = (m, *group["betas"][1:])
        else:
            group["momentum"] = m

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        step = self.last_epoch
        if step > self.total_steps:
            raise TinyLMError(
                f"OneCycleLR: stepped {step} times, past total_steps {self.total_steps}"
            )
        lrs = []
        for group in self.optimizer.param_groups:
            start = 0.0
            for i, (end, lr_a, lr_b, m_a, m_b) in enumerate(self._phases):
                if step <= end or i == len(self._phases) - 1:
                    pct = (step - start) / (end - start)
                    lr = self._anneal(group[lr_a], group[lr_b], pct)
                    if self.cycle_momentum:
                        self._set_momentum(group, self._anneal(group[m_a], group[m_b], pct))
                    break
                start = end
            lrs.append(lr)
        return lrs


class ReduceLROnPlateau:
    """Divide the learning rate by 1/``factor`` once a watched metric (a validation loss, say)
    has stopped improving for ``patience`` calls of ``step(metric)``, as PyTorch's.

    "Improving" in ``mode="min"`` means below best · (1 − threshold) (``threshold_mode="rel"``)
    or best − threshold (``"abs"``); ``mode="max"`` mirrors it. After a reduction, ``cooldown``
    calls pass before counting again; no lr goes below ``min_lr`` (one value, or one per
    group), and a reduction smaller than ``eps`` is skipped.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | Sequence[float] = 0.0,
        eps: float = 1e-8,
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"ReduceLROnPlateau: expected an Optimizer, got {type(optimizer)}")
        if factor >= 1.0:
            raise TinyLMError(f"ReduceLROnPlateau: factor must be < 1.0, got {factor}")
        if mode not in ("min", "max") or threshold_mode not in ("rel", "abs"):
            raise TinyLMError(
                f"ReduceLROnPlateau: mode is 'min' or 'max' and threshold_mode 'rel' or 'abs', "
                f"got {mode!r} and {threshold_mode!r}"
            )
        n = len(optimizer.param_groups)
        mins = list(min_lr) if isinstance(min_lr, list | tuple) else [min_lr] * n
        if len(mins) != n:
            raise TinyLMError(f"ReduceLROnPlateau: got {len(mins)} min_lr for {n} groups")
        self.optimizer, self.mode, self.factor = optimizer, mode, float(factor)
        self.patience, self.threshold, self.threshold_mode = patience, threshold, threshold_mode
        self.cooldown, self.min_lrs, self.eps = cooldown, [float(m) for m in mins], eps
        # one min_lr for all groups covers groups added later too; a list cannot (PyTorch's)
        self.default_min_lr = None if isinstance(min_lr, list | tuple) else float(min_lr)
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs, self.cooldown_counter, self.last_epoch = 0, 0, 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    def _is_better(self, value: float) -> bool:
        rel = self.threshold_mode == "rel"
        if self.mode == "min":
            return value < (self.best * (1 - self.threshold) if rel else self.best - self.threshold)
        return value > (self.best * (1 + self.threshold) if rel else self.best + self.threshold)

    def step(self, metrics: Any, epoch: int | None = None) -> None:
        """Record this epoch's metric; reduce the learning rates if it has not improved for
        more than ``patience`` calls. ``epoch`` (deprecated in PyTorch, with its warning)
        sets ``last_epoch`` instead of counting one on; the reduction rule is the same."""
        value = float(metrics)
        if epoch is None:
            self.last_epoch += 1
        else:
            warnings.warn(
                "ReduceLROnPlateau.step: the epoch argument is deprecated (as in PyTorch); "
                "call step(metrics)",
                UserWarning,
                stacklevel=2,
            )
            self.last_epoch = epoch
        if self._is_better(value):
            self.best, self.num_bad_epochs = value, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs in cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._match_min_lrs_to_groups()
            for group, floor in zip(self.optimizer.param_groups, self.min_lrs):
                new = max(group["lr"] * self.factor, floor)
                if group["lr"] - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _match_min_lrs_to_groups(self) -> None:
        """Before a reduction, as PyTorch's: if groups were added to the optimizer since,
        a single ``min_lr`` is repeated for them all; a per-group list is refused."""
        n = len(self.optimizer.param_groups)
        if n == len(self.min_lrs):
            return
        if self.default_min_lr is None:
            raise TinyLMError(
                f"ReduceLROnPlateau: the optimizer has {n} param groups but min_lr was given "
                f"for {len(self.min_lrs)} (a group was added?); set .min_lrs to one per group"
            )
        self.min_lrs = [self.default_min_lr] * n

    def get_last_lr(self) -> list[float]:
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.__dict__.update({k: v for k, v in state_dict.items() if k != "optimizer"})


class CosineAnnealingLR(LRScheduler):
    """lr = η_min + (base_lr − η_min) · ½ (1 + cos(π · step / T_max)).

    Falls from base_lr at step 0 to η_min at step T_max along half a cosine (and, like
    PyTorch's, rises again after T_max; use :class:`WarmupCosineLR` to stay at the floor).
    """

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ) -> None:
        if T_max <= 0:
            raise TinyLMError(f"CosineAnnealingLR: T_max must be positive, got {T_max}")
        self.T_max, self.eta_min = int(T_max), float(eta_min)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, step: int, base_lr: float) -> float:
        cosine = 0.5 * (1.0 + math.cos(math.pi * step / self.T_max))
        return self.eta_min + (base_lr - self.eta_min) * cosine

    def get_lr(self) -> list[float]:
        """PyTorch's chained form: each step scales the group's current (lr − η_min) by the
        ratio of this step's cosine factor to the last one's, so a learning rate changed by
        hand or by another scheduler is built on; the same values as :meth:`lr_at` otherwise.
        The creation step keeps the current lr, of a run resumed at ``last_epoch`` too (as
        PyTorch's: the cosine then scales the lr it finds)."""
        t, T, low = self.last_epoch, self.T_max, self.eta_min
        groups = self.optimizer.param_groups
        if self._is_initial:
            return [group["lr"] for group in groups]
        if self._step_count == 1 and t > 0:  # PyTorch's branch for a first step not made here
            return super().get_lr()
        if (t - 1 - T) % (2 * T) == 0:  # at the bottom the ratio below would be 0 / 0
            rise = (1 - math.cos(math.pi / T)) / 2
            return [g["lr"] + (base - low) * rise for base, g in zip(self.base_lrs, groups)]
        ratio = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
        return [ratio * (group["lr"] - low) + low for group in groups]


def warmup_cosine_lr(
    step: int, base_lr: float, warmup_steps: int, max_steps: int, min_lr: float
) -> float:
    """nanoGPT's learning rate at ``step``: linear warm-up, cosine decay to ``min_lr``, then
    constant (the formula of :class:`WarmupCosineLR`, for code that sets ``lr`` itself).

        step < W:        lr = base_lr · (step + 1) / (W + 1)
        W ≤ step < S:    lr = min_lr + (base_lr − min_lr) · ½ (1 + cos(π (step − W)/(S − W)))
        step ≥ S:        lr = min_lr
    with W = ``warmup_steps`` and S = ``max_steps`` (at step = S the cosine has reached
    min_lr). When S ≤ W there is no decay: warm-up, then min_lr.
    """
    if step < warmup_steps:
        return base_lr * (step + 1) / (warmup_steps + 1)
    if step >= max_steps:
        return min_lr
    ratio = (step - warmup_steps) / (max_steps - warmup_steps)
    return min_lr + (base_lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * ratio))


class WarmupCosineLR(LRScheduler):
    """nanoGPT's schedule: linear warm-up, cosine decay to ``min_lr``, then constant; see
    :func:`warmup_cosine_lr` for the formula.

    Warm-up keeps the first updates small while Adam's second-moment estimates are still
    noisy. ``min_lr`` is absolute (the same floor for every group); nanoGPT uses
    min_lr = base_lr / 10.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        warmup_steps: int,
        max_steps: int,
        min_lr: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        if warmup_steps < 0 or max_steps < 0:
            raise TinyLMError(
                f"WarmupCosineLR: need warmup_steps ≥ 0 and max_steps ≥ 0, got warmup_steps="
                f"{warmup_steps}, max_steps={max_steps}"
            )
        self.warmup_steps, self.max_steps = int(warmup_steps), int(max_steps)
        self.min_lr = float(min_lr)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, step: int, base_lr: float) -> float:
        return warmup_cosine_lr(step, base_lr, self.warmup_steps, self.max_steps, self.min_lr)


def linear_warmup_decay(step: int, warmup_steps: int, total_steps: int) -> float:
    """The factor of the fine-tuning schedule of BERT and Hugging Face's
    ``get_linear_schedule_with_warmup``: linear warm-up from 0 to 1, then linear decay to 0.

        step < W:   f = step / W
        step ≥ W:   f = max(0, (S − step) / (S − W))
    with W = ``warmup_steps`` and S = ``total_steps`` (f = 0 from step S on).
    """
    if step < warmup_steps:
        return step / max(1, warmup_steps)
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))


def get_linear_schedule_with_warmup(
    optimizer: Optimizer, num_warmup_steps: int, num_training_steps: int, last_epoch: int = -1
) -> LambdaLR:
    """lr = base_lr · :func:`linear_warmup_decay` (step): Hugging Face ``transformers``'
    function of the same name and arguments, as a :class:`LambdaLR`.

    As there, the very first step has lr = 0 when ``num_warmup_steps`` > 0: warm-up starts
    from nothing, so the first updates, made while Adam's moment estimates are still noisy,
    are the smallest.
    """
    if num_warmup_steps < 0 or num_training_steps <= 0:
        raise TinyLMError(
            "get_linear_schedule_with_warmup: need num_warmup_steps ≥ 0 and "
            f"num_training_steps > 0, got {num_warmup_steps} and {num_training_steps}"
        )

    def factor(step: int) -> float:
        return linear_warmup_decay(step, num_warmup_steps, num_training_steps)

    return LambdaLR(optimizer, factor, last_epoch)


# ---- PyTorch's other schedules (chained forms as PyTorch's, so they compose) ---------------


class MultiStepLR(LRScheduler):
    """lr = base_lr · γ^(number of milestones ≤ step): multiply by γ at each milestone (a
    milestone listed twice multiplies by γ²). Milestones need not be sorted, as in PyTorch."""

    def __init__(
        self,
        optimizer: Optimizer,
        milestones: Iterable[int],
        gamma: float = 0.1,
        last_epoch: int = -1,
    ) -> None:
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def lr_at(self, step: int, base_lr: float) -> float:
        passed = sum(n for m, n in self.milestones.items() if m <= step)
        return base_lr * self.gamma**passed

    def get_lr(self) -> list[float]:
        """PyTorch's chained form: the group's current lr, times γ^n at a milestone listed n
        times."""
        groups = self.optimizer.param_groups
        n = self.milestones.get(self.last_epoch, 0)
        if n == 0:
            return [group["lr"] for group in groups]
        return [group["lr"] * self.gamma**n for group in groups]


class ConstantLR(LRScheduler):
    """lr = base_lr · ``factor`` for steps 0 … total_iters − 1, then base_lr (a constant
    warm-up)."""

    def __init__(
        self,
        optimizer: Optimizer,
        factor: float = 1.0 / 3,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        if not 0 <= factor <= 1.0:
            raise TinyLMError(f"ConstantLR: factor must be in [0, 1], got {factor}")
        self.factor, self.total_iters = factor, total_iters
        super().__init__(optimizer, last_epoch)

    def lr_at(self, step: int, base_lr: float) -> float:
        return base_lr * (self.factor + (step >= self.total_iters) * (1 - self.factor))

    def get_lr(self) -> list[float]:
        """PyTorch's chained form: × factor at step 0, × 1/factor at ``total_iters``."""
        groups = self.optimizer.param_groups
        if self.last_epoch == 0:
            return [group["lr"] * self.factor for group in groups]
        if self.last_epoch != self.total_iters:
            return [group["lr"] for group in groups]
        return [group["lr"] * (1.0 / self.factor) for group in groups]


class MultiplicativeLR(LRScheduler):
    """lr ← lr · f(step) at every step after the first, with one function f, or one per
    parameter group (lr_t = base_lr · f(1) ⋯ f(t)). No closed form: ``step(epoch)`` applies
    f(epoch) once, as PyTorch's."""

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        fns = _one_function_per_group("MultiplicativeLR", lr_lambda, optimizer)
        if not all(callable(f) for f in fns):
            raise TypeError("MultiplicativeLR: lr_lambda must be a function or a list of them")
        self.lr_lambdas = fns
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        groups = self.optimizer.param_groups
        if self._is_initial:
            return [group["lr"] for group in groups]
        return [g["lr"] * f(self.last_epoch) for f, g in zip(self.lr_lambdas, groups)]


class PolynomialLR(LRScheduler):
    """lr = base_lr · (1 − min(step, T) / T)^p with T = ``total_iters`` and p = ``power``:
    a polynomial decay to 0 at step T (p = 1: a straight line), then 0."""

    def __init__(
        self,
        optimizer: Optimizer,
        total_iters: int = 5,
        power: float = 1.0,
        last_epoch: int = -1,
    ) -> None:
        if total_iters <= 0:
            raise TinyLMError(f"PolynomialLR: total_iters must be positive, got {total_iters}")
        self.total_iters, self.power = total_iters, power
        super().__init__(optimizer, last_epoch)

    def lr_at(self, step: int, base_lr: float) -> float:
        return base_lr * (1.0 - min(self.total_iters, step) / self.total_iters) ** self.power

    def get_lr(self) -> list[float]:
        """PyTorch's chained form: the current lr times the ratio of this step's factor to
        the last one's."""
        groups, t, T = self.optimizer.param_groups, self.last_epoch, self.total_iters
        if self._is_initial or t > T:
            return [group["lr"] for group in groups]
        ratio = ((1.0 - t / T) / (1.0 - (t - 1) / T)) ** self.power
        return [group["lr"] * ratio for group in groups]


class CosineAnnealingWarmRestarts(LRScheduler):
    """SGDR (Loshchilov & Hutter, 2017), as PyTorch's:
    lr = η_min + (base_lr − η_min) · ½ (1 + cos(π T_cur / T_i)),
    where T_cur counts the steps since the last restart and the i-th period lasts
    T_i = T_0 · T_mult^i steps; at each restart the lr jumps back to base_lr.

    ``step()`` moves one step on; ``step(epoch)`` jumps to ``epoch``, which may be
    fractional (``step(epoch + i / iters_per_epoch)`` after each batch), and recomputes
    T_cur and T_i from it; ``last_epoch`` is then ⌊epoch⌋.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        T_0: int,
        T_mult: int = 1,
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        name = "CosineAnnealingWarmRestarts"
        if not isinstance(T_0, int) or T_0 <= 0:
            raise TinyLMError(f"{name}: T_0 must be a positive int, got {T_0!r}")
        if not isinstance(T_mult, int) or T_mult < 1:
            raise TinyLMError(f"{name}: T_mult must be an int ≥ 1, got {T_mult!r}")
        if not isinstance(eta_min, float | int):
            raise TinyLMError(f"{name}: eta_min must be a number, got {eta_min!r}")
        self.T_0, self.T_i, self.T_mult, self.eta_min = T_0, T_0, T_mult, eta_min
        self.T_cur: float = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        cosine = 1 + math.cos(math.pi * self.T_cur / self.T_i)
        return [self.eta_min + (base - self.eta_min) * cosine / 2 for base in self.base_lrs]

    def step(self, epoch: float | None = None) -> None:
        """One step on (``epoch`` None), or to ``epoch`` (≥ 0, may be fractional)."""
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        elif epoch < 0:
            raise TinyLMError(f"CosineAnnealingWarmRestarts: epoch must be ≥ 0, got {epoch}")
        elif epoch >= self.T_0:
            if self.T_mult == 1:
                self.T_cur = epoch % self.T_0
            else:  # the n-th period starts at T_0 (T_mult^n − 1) / (T_mult − 1)
                n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
                self.T_cur = epoch - self.T_0 * (self.T_mult**n - 1) / (self.T_mult - 1)
                self.T_i = self.T_0 * self.T_mult**n
        else:
            self.T_i, self.T_cur = self.T_0, epoch
        self.last_epoch = math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]


def _check_schedulers(name: str, optimizer: Optimizer, schedulers: Sequence[Any]) -> None:
    if len(schedulers) < 1:
        raise TinyLMError(f"{name}: expects at least one scheduler, got none")
    for i, s in enumerate(schedulers):
        if not hasattr(s, "optimizer"):
            raise TypeError(f"{name}: the scheduler at index {i} has no `optimizer` attribute")
        if isinstance(s, ReduceLROnPlateau):
            raise TinyLMError(
                f"{name}: ReduceLROnPlateau (index {i}) cannot be combined: its step() needs "
                "a metric"
            )
        if s.optimizer is not optimizer:
            raise TinyLMError(
                f"{name}: the scheduler at index {i} ({type(s).__name__}) belongs to a "
                "different optimizer"
            )


def _nested_state_dict(scheduler: Any) -> dict[str, Any]:
    state = {
        k: (list(v) if isinstance(v, list) else v)
        for k, v in scheduler.__dict__.items()
        if k not in ("optimizer", "_schedulers")
    }
    state["_schedulers"] = [s.state_dict() for s in scheduler._schedulers]
    return state


def _load_nested_state_dict(scheduler: Any, state_dict: dict[str, Any]) -> None:
    inner = state_dict["_schedulers"]
    if len(inner) != len(scheduler._schedulers):
        raise TinyLMError(
            f"{type(scheduler).__name__}.load_state_dict: {len(inner)} schedulers in the state "
            f"dict, {len(scheduler._schedulers)} here"
        )
    scheduler.__dict__.update(
        {k: v for k, v in state_dict.items() if k not in ("optimizer", "_schedulers")}
    )
    for s, saved in zip(scheduler._schedulers, inner):
        s.load_state_dict(saved)


class SequentialLR(LRScheduler):
    """Run ``schedulers[0]`` until ``milestones[0]``, then ``schedulers[1]`` …, as PyTorch's:
    the warm-up-then-decay idiom, e.g. ``SequentialLR(opt, [LinearLR(opt, 0.1, total_iters=W),
    CosineAnnealingLR(opt, T_max=S - W)], milestones=[W])``.

    Creating it resets every group's lr to its ``initial_lr``, takes back the first step
    each scheduler made when it was created, and starts the scheduler that runs at step 0.
    At a milestone the next scheduler restarts at its own step 0 (its closed form at 0,
    where it has one: base_lr for a cosine), so the milestone step already has its lr.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        schedulers: Sequence[LRScheduler],
        milestones: Sequence[int],
        last_epoch: int = -1,
    ) -> None:
        _check_schedulers("SequentialLR", optimizer, schedulers)
        if len(milestones) != len(schedulers) - 1:
            raise TinyLMError(
                f"SequentialLR: needs one milestone fewer than schedulers, got "
                f"{len(schedulers)} schedulers and {len(milestones)} milestones"
            )
        self._schedulers = list(schedulers)
        self._milestones = list(milestones)
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self._undo_first_steps(self)
        idx = bisect.bisect_right(self._milestones, 0)
        self._schedulers[idx]._initial_step()
        self._last_lr = self._schedulers[idx].get_last_lr()

    def _undo_first_steps(self, scheduler: Any) -> None:
        """Take back the creation step of each scheduler (of nested ones too)."""
        if hasattr(scheduler, "_schedulers"):
            for s in scheduler._schedulers:
                self._undo_first_steps(s)
        elif hasattr(scheduler, "last_epoch"):
            scheduler.last_epoch -= 1

    def step(self) -> None:  # type: ignore[override]
        """One step on, by the scheduler whose interval holds it (restarted at its
        milestone)."""
        self.last_epoch += 1
        idx = bisect.bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict[str, Any]:
        """Its own counters and each scheduler's state dict (under ``"_schedulers"``)."""
        return _nested_state_dict(self)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        _load_nested_state_dict(self, state_dict)


class ChainedScheduler(LRScheduler):
    """Step several schedulers at once, each multiplying the lr the one before it set (they
    compose through their chained forms), as PyTorch's: e.g.
    ``ChainedScheduler([ConstantLR(opt, 0.1, 2), ExponentialLR(opt, 0.9)])``."""

    def __init__(
        self, schedulers: Sequence[LRScheduler], optimizer: Optimizer | None = None
    ) -> None:
        if len(schedulers) < 1:
            raise TinyLMError("ChainedScheduler: expects at least one scheduler, got none")
        optimizer = optimizer or schedulers[0].optimizer
        _check_schedulers("ChainedScheduler", optimizer, schedulers)
        self._schedulers = list(schedulers)
        self.optimizer = optimizer
        self._last_lr = [group["lr"] for group in self._schedulers[-1].optimizer.param_groups]

    def step(self) -> None:  # type: ignore[override]
        """Step every scheduler, in order."""
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = [group["lr"] for group in self._schedulers[-1].optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """Its own fields and each scheduler's state dict (under ``"_schedulers"``)."""
        return _nested_state_dict(self)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        _load_nested_state_dict(self, state_dict)


class CyclicLR(LRScheduler):
    """Cyclical learning rates (Smith, 2017), as PyTorch's: the lr climbs from ``base_lr`` to
    ``max_lr`` over ``step_size_up`` steps and back over ``step_size_down`` (default: the
    same), cycle after cycle. With c the cycle (from 1) and x ∈ [0, 1) the position in it,
    the rise h = x / r (x ≤ r) or (1 − x) / (1 − r), r = up / (up + down), and

        lr = base_lr + (max_lr − base_lr) · h · scale

    scale = 1 (``"triangular"``), 1 / 2^(c−1) (``"triangular2"``: each cycle half as high),
    γ^step (``"exp_range"``), or ``scale_fn(c)`` / ``scale_fn(step)`` (``scale_mode``
    ``"cycle"`` / ``"iterations"``). With ``cycle_momentum`` the momentum (SGD's, or the β₁
    of Adam's ``betas``) moves the other way, from ``max_momentum`` down to
    ``base_momentum`` and back. Call ``step()`` after every batch.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        base_lr: float | Sequence[float],
        max_lr: float | Sequence[float],
        step_size_up: int = 2000,
        step_size_down: int | None = None,
        mode: str = "triangular",
        gamma: float = 1.0,
        scale_fn: Callable[[float], float] | None = None,
        scale_mode: str = "cycle",
        cycle_momentum: bool = True,
        base_momentum: float | Sequence[float] = 0.8,
        max_momentum: float | Sequence[float] = 0.9,
        last_epoch: int = -1,
    ) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"CyclicLR: expected an Optimizer, got {type(optimizer)}")
        self.optimizer = optimizer
        base_lrs = self._per_group("base_lr", base_lr)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups):
                group["lr"] = lr
        self.max_lrs = self._per_group("max_lr", max_lr)
        up = float(step_size_up)
        down = float(step_size_down) if step_size_down is not None else up
        if up <= 0 or down < 0:
            raise TinyLMError(
                f"CyclicLR: step_size_up must be > 0 and step_size_down ≥ 0, got {step_size_up} "
                f"and {step_size_down}"
            )
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        if mode not in ("triangular", "triangular2", "exp_range") and scale_fn is None:
            raise TinyLMError(
                f"CyclicLR: mode must be 'triangular', 'triangular2' or 'exp_range' (or give "
                f"scale_fn), got {mode!r}"
            )
        if scale_fn is not None and scale_mode not in ("cycle", "iterations"):
            raise TinyLMError(
                f"CyclicLR: scale_mode must be 'cycle' or 'iterations', got {scale_mode!r}"
            )
        self.mode, self.gamma = mode, gamma
        self._scale_fn_custom = scale_fn
        if scale_fn is None:
            scale_mode = "iterations" if mode == "exp_range" else "cycle"
        self.scale_mode = scale_mode
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise TinyLMError(
                    f"CyclicLR: cycle_momentum needs an optimizer with momentum or betas, "
                    f"{type(optimizer).__name__} has neither (pass cycle_momentum=False)"
                )
            self.use_beta1 = "betas" in optimizer.defaults
            self.base_momentums = self._per_group("base_momentum", base_momentum)
            self.max_momentums = self._per_group("max_momentum", max_momentum)
            if last_epoch == -1:
                for top, low, group in zip(
                    self.max_momentums, self.base_momentums, optimizer.param_groups
                ):
                    self._set_momentum(group, top)
                    group["max_momentum"], group["base_momentum"] = top, low
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def _per_group(self, name: str, value: Any) -> list[float]:
        n = len(self.optimizer.param_groups)
        if isinstance(value, list | tuple):
            if len(value) != n:
                raise TinyLMError(f"CyclicLR: {name} has {len(value)} values for {n} groups")
            return list(value)
        return [value] * n

    def _set_momentum(self, group: dict[str, Any], m: float) -> None:
        if self.use_beta1:
            group["betas"] = (m, *group["betas"][1:])
        else:
            group["momentum"] = m

    def scale_fn(self, x: float) -> float:
        """The height of cycle x (``scale_mode="cycle"``) or step x (``"iterations"``)."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma**x

    def get_lr(self) -> list[float]:
        """The lr of step ``last_epoch`` (and, with ``cycle_momentum``, the momentum, set in
        the groups here)."""
        t = self.last_epoch
        cycle = math.floor(1 + t / self.total_size)
        x = 1.0 + t / self.total_size - cycle
        if x <= self.step_ratio:
            rise = x / self.step_ratio
        else:
            rise = (x - 1) / (self.step_ratio - 1)
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else t)
        lrs = [low + (top - low) * rise * scale for low, top in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:
            for group, low, top in zip(
                self.optimizer.param_groups, self.base_momentums, self.max_momentums
            ):
                self._set_momentum(group, top - (top - low) * rise * scale)
        return lrs
