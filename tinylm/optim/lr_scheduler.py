"""Learning-rate schedules: each sets ``group["lr"]`` for every step from a closed formula.

Call ``scheduler.step()`` once per optimizer step (after ``optimizer.step()``). The
schedule starts at step 0 when it is created, so the first ``optimizer.step()`` already
uses the step-0 learning rate.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from tinylm.autograd import TinyLMError
from tinylm.optim.optimizer import Optimizer

__all__ = [
    "CosineAnnealingLR",
    "ExponentialLR",
    "LRScheduler",
    "LambdaLR",
    "LinearLR",
    "OneCycleLR",
    "ReduceLROnPlateau",
    "StepLR",
    "WarmupCosineLR",
    "get_linear_schedule_with_warmup",
    "linear_warmup_decay",
    "warmup_cosine_lr",
]


class LRScheduler:
    """Base class: subclasses implement ``lr_at(step, base_lr)``.

    ``base_lrs`` are the groups' learning rates when the scheduler was created (stored
    in each group as ``"initial_lr"``, like PyTorch, so a resumed run finds them).
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected an Optimizer, got {type(optimizer)}")
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._last_lr: list[float] = []
        self._step_count = 0
        self.step()

    def lr_at(self, step: int, base_lr: float) -> float:
        raise NotImplementedError

    def get_lr(self) -> list[float]:
        """The learning rates of the current step (``last_epoch``)."""
        return [self.lr_at(self.last_epoch, base) for base in self.base_lrs]

    def step(self) -> None:
        """Advance one step and write the new learning rates into the optimizer."""
        self.last_epoch += 1
        self._step_count += 1
        self._last_lr = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = lr

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


class LambdaLR(LRScheduler):
    """lr = base_lr · f(step), with one function f, or one per parameter group."""

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        n = len(optimizer.param_groups)
        fns = list(lr_lambda) if isinstance(lr_lambda, list | tuple) else [lr_lambda] * n
        if len(fns) != n:
            raise TinyLMError(f"LambdaLR: got {len(fns)} functions for {n} parameter groups")
        self.lr_lambdas = fns
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
        so a learning rate changed by hand, or by a second scheduler, is built on (the closed
        form :meth:`lr_at` for a run resumed at ``last_epoch``)."""
        groups = self.optimizer.param_groups
        if self._step_count == 1 and self.last_epoch > 0:
            return super().get_lr()
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
        if self._step_count == 1:
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
        of this step's factor to the last one's, so an lr set by hand is built on."""
        groups, step = self.optimizer.param_groups, self.last_epoch
        if step == 0:
            return [group["lr"] * self.start_factor for group in groups]
        if step > self.total_iters:
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
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise TinyLMError("OneCycleLR: give total_steps, or epochs and steps_per_epoch")
            total_steps = epochs * steps_per_epoch
        if total_steps <= 0 or not 0 <= pct_start <= 1 or anneal_strategy not in ("cos", "linear"):
            raise TinyLMError(
                f"OneCycleLR: total_steps must be > 0 (got {total_steps}), pct_start in [0, 1] "
                f"(got {pct_start}), anneal_strategy 'cos' or 'linear' (got {anneal_strategy!r})"
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
        self._use_beta1 = "betas" in groups[0]
        if cycle_momentum and not self._use_beta1 and "momentum" not in groups[0]:
            raise TinyLMError(
                "OneCycleLR: cycle_momentum needs an optimizer with momentum or betas"
            )
        for group, top, lo, hi in zip(
            groups, per_group(max_lr), per_group(base_momentum), per_group(max_momentum)
        ):
            if last_epoch == -1:
                group["initial_lr"] = top / div_factor
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final_div_factor
            if cycle_momentum:
                self._set_momentum(group, hi)
                group["max_momentum"], group["base_momentum"] = hi, lo
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, group: dict[str, Any], m: float) -> None:
        if self._use_beta1:
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
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs, self.cooldown_counter, self.last_epoch = 0, 0, 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    def _is_better(self, value: float) -> bool:
        rel = self.threshold_mode == "rel"
        if self.mode == "min":
            return value < (self.best * (1 - self.threshold) if rel else self.best - self.threshold)
        return value > (self.best * (1 + self.threshold) if rel else self.best + self.threshold)

    def step(self, metrics: Any) -> None:
        """Record this epoch's metric; reduce the learning rates if it has not improved for
        more than ``patience`` calls."""
        value = float(metrics)
        self.last_epoch += 1
        if self._is_better(value):
            self.best, self.num_bad_epochs = value, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs in cooldown do not count
        if self.num_bad_epochs > self.patience:
            for group, floor in zip(self.optimizer.param_groups, self.min_lrs):
                new = max(group["lr"] * self.factor, floor)
                if group["lr"] - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

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
        hand or by another scheduler is built on; the same values as :meth:`lr_at` otherwise
        (which a run resumed at ``last_epoch`` uses for its first step)."""
        t, T, low = self.last_epoch, self.T_max, self.eta_min
        groups = self.optimizer.param_groups
        if t == 0:
            return [group["lr"] for group in groups]
        if self._step_count == 1:
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
