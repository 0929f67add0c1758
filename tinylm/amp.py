"""``tinylm.amp``: PyTorch's automatic mixed precision, as far as a float32/float64 library can
honestly offer it.

* :class:`autocast` — PyTorch runs chosen ops in float16/bfloat16 inside it. tinylm computes
  every op in its tensors' own dtype, so an autocast that would be active is refused with one
  clear line instead of silently giving float32 results. Where PyTorch itself turns it off it
  does nothing, as there: ``enabled=False``, and ``device_type="cuda"`` without a GPU (with
  PyTorch's warning).
* :class:`GradScaler` — loss scaling: the loss is multiplied by a scale S before ``backward``,
  the gradients divided by S before the step, and a step whose gradients hold an inf or NaN is
  skipped while S is halved; after ``growth_interval`` good steps in a row S doubles. Nothing
  here needs float16: it works, and equals PyTorch's, on float32 and float64 tensors too.
  With ``enabled=False`` every method passes straight through (``scale(loss)`` is ``loss``);
  as in PyTorch, a scaler for ``device="cuda"`` on a machine without a GPU warns and is
  disabled.

``torch.autocast`` is ``tinylm.autocast``; ``torch.cuda.amp`` is ``tinylm.cuda.amp``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from tinylm.autograd import TinyLMError, no_grad
from tinylm.devices import cuda_is_available
from tinylm.tensor import Tensor

__all__ = ["GradScaler", "autocast"]


class autocast:  # noqa: N801 - PyTorch's name
    """``with tinylm.autocast(device_type, dtype=None, enabled=True): ...`` — accepted only
    where it would do nothing in PyTorch either (see the module's docstring); also usable as a
    decorator."""

    def __init__(
        self,
        device_type: str = "cuda",
        dtype: Any = None,
        enabled: bool = True,
        cache_enabled: bool | None = None,
    ) -> None:
        if not isinstance(device_type, str):
            raise TinyLMError(f"autocast: device_type must be a string, got {device_type!r}")
        self.device_type, self.dtype, self.enabled = device_type, dtype, bool(enabled)
        if self.enabled and device_type == "cuda" and not cuda_is_available():
            warnings.warn("CUDA is not available. Disabling autocast.", stacklevel=2)
            self.enabled = False
        if self.enabled:
            raise TinyLMError(
                f"autocast: mixed precision is not supported (device_type={device_type!r}, "
                f"dtype={dtype}); tinylm computes each op in its tensors' own dtype: remove "
                "autocast or pass enabled=False"
            )

    def __enter__(self) -> autocast:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def __call__(self, fn: Callable) -> Callable:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            with self:
                return fn(*args, **kwargs)

        return wrapped


_READY, _UNSCALED, _STEPPED = range(3)  # each optimizer's stage between two update() calls


class GradScaler:
    """Loss scaling, as ``torch.amp.GradScaler`` (see the module's docstring). The training step::

        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)           # optional: before clipping the true gradients
        clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(optimizer)               # skipped when a gradient is inf or NaN
        scaler.update()                      # S × backoff_factor after a skip, × growth_factor
                                             # after growth_interval good steps in a row

    The scale is kept as a float32 number, as PyTorch keeps it, so S and 1/S stay the same
    powers of two in both libraries.
    """

    def __init__(
        self,
        device: str = "cuda",
        init_scale: float = 65536.0,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
        enabled: bool = True,
    ) -> None:
        if growth_factor <= 1.0:
            raise TinyLMError(f"GradScaler: growth_factor must be > 1, got {growth_factor}")
        if not 0.0 < backoff_factor < 1.0:
            raise TinyLMError(f"GradScaler: backoff_factor must be in (0, 1), got {backoff_factor}")
        if isinstance(growth_interval, bool) or not isinstance(growth_interval, int):
            raise TinyLMError(f"GradScaler: growth_interval must be an int, got {growth_interval}")
        if growth_interval <= 0:
            raise TinyLMError(f"GradScaler: growth_interval must be > 0, got {growth_interval}")
        self.device = device
        self._enabled = bool(enabled)
        if self._enabled and str(device).startswith("cuda") and not cuda_is_available():
            warnings.warn(
                "GradScaler is enabled, but CUDA is not available. Disabling.", stacklevel=2
            )
            self._enabled = False
        self._scale = float(np.float32(init_scale))
        self._growth_factor, self._backoff_factor = float(growth_factor), float(backoff_factor)
        self._growth_interval = growth_interval
        self._growth_tracker = 0  # good steps in a row since the scale last changed
        self._states: dict[int, dict[str, Any]] = {}  # id(optimizer) -> stage, found_inf

    # ---- the training step ---------------------------------------------------------------

    def scale(self, outputs: Any) -> Any:
        """``outputs`` × S: a tensor, or a list/tuple of them (nested)."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, Tensor):
            return outputs * self._scale
        if isinstance(outputs, list | tuple):
            return type(outputs)(self.scale(o) for o in outputs)
        raise TinyLMError(
            f"GradScaler.scale: outputs must be a Tensor or a list/tuple of them, got "
            f"{type(outputs).__name__}"
        )

    def _state(self, optimizer: Any) -> dict[str, Any]:
        return self._states.setdefault(id(optimizer), {"stage": _READY, "found_inf": False})

    def unscale_(self, optimizer: Any) -> None:
        """Divide every gradient of ``optimizer``'s parameters by S, in place, and note
        whether any of them holds an inf or NaN (then :meth:`step` skips the step)."""
        if not self._enabled:
            return
        state = self._state(optimizer)
        if state["stage"] == _UNSCALED:
            raise RuntimeError(
                "unscale_() has already been called on this optimizer since the last update()."
            )
        if state["stage"] == _STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        inv_scale = np.float32(1.0 / np.float64(self._scale))  # as PyTorch: float32 1/S
        found_inf = False
        with no_grad():
            for group in optimizer.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    p.grad.mul_(float(inv_scale))
                    found_inf = found_inf or not p.grad.isfinite().all().item()
        state["stage"], state["found_inf"] = _UNSCALED, found_inf

    def step(self, optimizer: Any, *args: Any, **kwargs: Any) -> Any:
        """``optimizer.step(*args, **kwargs)`` on the unscaled gradients, unless one of them
        is inf or NaN (then nothing, and None is returned)."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        state = self._state(optimizer)
        if state["stage"] == _STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if state["stage"] == _READY:
            self.unscale_(optimizer)
        state["stage"] = _STEPPED
        return None if state["found_inf"] else optimizer.step(*args, **kwargs)

    def update(self, new_scale: float | Tensor | None = None) -> None:
        """The next S: ``new_scale`` if given; else S × backoff_factor when a step this round
        found an inf or NaN, S × growth_factor after ``growth_interval`` good steps in a row."""
        if not self._enabled:
            return
        if new_scale is not None:
            value = new_scale.item() if isinstance(new_scale, Tensor) else new_scale
            self._scale = float(np.float32(value))
        else:
            if not self._states:  # PyTorch's exception type, so that except clauses carry over
                raise AssertionError("No inf checks were recorded prior to update.")
            scale = np.float32(self._scale)
            if any(s["found_inf"] for s in self._states.values()):
                scale, self._growth_tracker = scale * np.float32(self._backoff_factor), 0
            else:
                self._growth_tracker += 1
                if self._growth_tracker == self._growth_interval:
                    scale, self._growth_tracker = scale * np.float32(self._growth_factor), 0
            self._scale = float(scale)
        self._states.clear()

    # ---- settings and checkpoints ------------------------------------------------------

    def is_enabled(self) -> bool:
        return self._enabled

    def get_scale(self) -> float:
        """S (1.0 when disabled, as PyTorch)."""
        return self._scale if self._enabled else 1.0

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def set_growth_factor(self, new_factor: float) -> None:
        self._growth_factor = float(new_factor)

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def set_backoff_factor(self, new_factor: float) -> None:
        self._backoff_factor = float(new_factor)

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def set_growth_interval(self, new_interval: int) -> None:
        self._growth_interval = int(new_interval)

    def state_dict(self) -> dict[str, Any]:
        """PyTorch's keys; empty when disabled."""
        if not self._enabled:
            return {}
        return {
            "scale": self._scale,
            "growth_factor": self._growth_factor,
            "backoff_factor": self._backoff_factor,
            "growth_interval": self._growth_interval,
            "_growth_tracker": self._growth_tracker,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError(
                "The source state dict is empty, possibly because it was saved from a disabled "
                "instance of GradScaler."
            )
        self._scale = float(np.float32(state_dict["scale"]))
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._growth_tracker = int(state_dict["_growth_tracker"])
