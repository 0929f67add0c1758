"""LoRA: fine-tune a Linear layer through a low-rank update of its frozen weight.

Hu et al., "LoRA: Low-Rank Adaptation of Large Language Models" (2021). A pre-trained
weight W₀ (out, in) stays frozen; the layer learns

    ΔW = (α / r) · B A,      A (r, in) random,  B (out, r) = 0 at the start,
    y  = x W₀ᵀ + b + (α / r) · (x Aᵀ) Bᵀ        x (…, in) → y (…, out)

* parameters trained: r·(in + out) instead of in·out (r = 8, in = out = 768: 2 % of them);
* B = 0 at the start, so ΔW = 0 and the adapted model computes exactly what the pre-trained
  one did: training starts from the pre-trained function, not from a perturbed one;
* α/r keeps the size of the update comparable when r changes (with Adam each entry of A and
  B moves by about the learning rate, so B A grows like r; dividing by r undoes that);
* ``merge()`` folds the update into the weight, W ← W₀ + ΔW, so inference costs one plain
  matrix product again; ``unmerge()`` subtracts it (exact up to rounding).

Read top to bottom: :class:`LoRALinear`, then the helpers that work on a whole model —
:func:`apply_lora` (wrap the Linear layers whose names match), :func:`merge_lora` /
:func:`unmerge_lora`, and :func:`lora_state_dict` / :func:`load_lora_state_dict` (save and
load the adapters alone: a few kilobytes next to a backbone of megabytes).

The names follow Hugging Face PEFT's ``LoraConfig`` (``r``, ``lora_alpha``, ``lora_dropout``,
``target_modules``); the parameter names keep the wrapped layer's (``weight``, ``bias``) and add
``lora_A`` and ``lora_B`` beside them, so a backbone's state dict still loads into the
adapted model (``strict=False`` for the adapters it lacks).
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from tinylm.autograd import TinyLMError, is_grad_enabled, no_grad
from tinylm.devices import array_module, device_of, to_device_array
from tinylm.nn import functional as F
from tinylm.nn.layers import Dropout, Linear
from tinylm.nn.module import Module, Parameter
from tinylm.random import default_generator
from tinylm.tensor import Tensor

__all__ = [
    "LoRALinear",
    "apply_lora",
    "load_lora_state_dict",
    "lora_state_dict",
    "merge_lora",
    "unmerge_lora",
]


class LoRALinear(Module):
    """A :class:`~tinylm.nn.Linear` with a trainable low-rank update of its frozen weight.

    ``LoRALinear(base, r=8, lora_alpha=8.0, lora_dropout=0.0)`` wraps ``base``: it takes over
    its ``weight`` (out, in) and ``bias`` (out,) — the same Parameter objects, frozen — and
    adds ``lora_A`` (r, in), drawn like a Linear weight, U(−1/√in, 1/√in), and ``lora_B``
    (out, r), zeros. ``forward(x)``, x (…, in) → (…, out):

        y = x Wᵀ + b + (α/r) · dropout(x) Aᵀ Bᵀ       (unmerged)
        y = x Wᵀ + b                                  (merged: W already holds W₀ + ΔW)

    ``lora_dropout`` drops inputs of the update only, in training mode. A merged layer has
    no path to A and B, so running it with gradients enabled while A needs them raises an
    error instead of silently training nothing: ``unmerge()`` first.
    """

    def __init__(
        self, base: Linear, r: int = 8, lora_alpha: float = 8.0, lora_dropout: float = 0.0
    ) -> None:
        super().__init__()
        if not isinstance(base, Linear):
            raise TinyLMError(f"LoRALinear: can only wrap an nn.Linear, got {type(base).__name__}")
        if int(r) != r or r <= 0:
            raise TinyLMError(f"LoRALinear: the rank r must be a positive integer, got {r}")
        self.in_features, self.out_features = base.in_features, base.out_features
        self.r, self.lora_alpha = int(r), float(lora_alpha)
        self.scaling = self.lora_alpha / self.r
        self.weight = base.weight
        if base.bias is not None:
            self.bias = base.bias
        else:
            self.register_parameter("bias", None)
        for p in (self.weight, self.bias):
            if p is not None:
                p.requires_grad = False
        xp, dtype = array_module(self.weight.data), self.weight.dtype
        bound = 1.0 / math.sqrt(self.in_features)
        a = default_generator.numpy.uniform(-bound, bound, (self.r, self.in_features))
        device = device_of(self.weight.data)
        self.lora_A = Parameter(Tensor._wrap(to_device_array(a.astype(dtype), device)))
        self.lora_B = Parameter(Tensor._wrap(xp.zeros((self.out_features, self.r), dtype)))
        self.lora_dropout = Dropout(lora_dropout)
        self.merged = False

    def delta_weight(self) -> Tensor:
        """ΔW = (α/r) · B A, (out, in): what :meth:`merge` adds to the weight."""
        return (self.lora_B @ self.lora_A) * self.scaling

    def forward(self, x: Tensor) -> Tensor:
        out = F.linear(x, self.weight, self.bias)
        if self.merged:
            if is_grad_enabled() and self.lora_A.requires_grad:
                raise TinyLMError(
                    "LoRALinear: the adapter is merged into the weight, so lora_A and lora_B "
                    "would get no gradient; call unmerge() before training"
                )
            return out
        # (x Aᵀ) Bᵀ: two thin products, never the (out, in) matrix B A
        update = F.linear(F.linear(self.lora_dropout(x), self.lora_A), self.lora_B)
        return out + update * self.scaling

    def merge(self) -> LoRALinear:
        """W ← W + ΔW; the layer then computes the same outputs with one matrix product.
        Merging a merged layer does nothing."""
        if not self.merged:
            with no_grad():
                self.weight.add_(self.delta_weight())
            self.merged = True
        return self

    def unmerge(self) -> LoRALinear:
        """W ← W − ΔW: back to the frozen weight and a separate, trainable update."""
        if self.merged:
            with no_grad():
                self.weight.sub_(self.delta_weight())
            self.merged = False
        return self

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}, r={self.r}, lora_alpha={self.lora_alpha:g}, "
            f"merged={self.merged}"
        )


def _matches(name: str, target_modules: str | Iterable[str]) -> bool:
    """PEFT's rule: a string is a regular expression the whole name must match; a list of
    names matches a module whose dotted name equals one of them or ends with ``.<it>``."""
    if isinstance(target_modules, str):
        return re.fullmatch(target_modules, name) is not None
    return any(name == t or name.endswith("." + t) for t in target_modules)


def apply_lora(
    model: Module,
    target_modules: str | Iterable[str] = ("c_attn",),
    r: int = 8,
    lora_alpha: float = 8.0,
    lora_dropout: float = 0.0,
) -> list[str]:
    """Replace, in place, every :class:`~tinylm.nn.Linear` of ``model`` whose dotted name
    matches ``target_modules`` with a :class:`LoRALinear` wrapping it.

    Args:
        model: any Module (its other parameters are left as they are: freeze the backbone
            with ``model.requires_grad_(False)`` *before* calling this, so that only the new
            adapters train).
        target_modules: names such as ``("c_attn", "c_proj")`` (a module matches when its
            name ends with one), or one regular expression for the whole dotted name, e.g.
            ``r"h\\.\\d+\\.attn\\.c_attn"``.
        r, lora_alpha, lora_dropout: as in :class:`LoRALinear`.

    Returns:
        The dotted names of the wrapped layers.

    Raises:
        TinyLMError: when nothing matches, when a matching module is not a Linear (a
            LoRALinear included: adapters are not stacked), or when its weight is tied to
            another layer's (the GPT's ``lm_head``).
    """
    uses: dict[int, int] = {}  # how many places hold each parameter (tied weights: 2)
    for _, p in model.named_parameters(remove_duplicate=False):
        uses[id(p)] = uses.get(id(p), 0) + 1
    wrapped = []
    for name, module in list(model.named_modules()):
        if not name or not _matches(name, target_modules):
            continue
        if not isinstance(module, Linear):
            raise TinyLMError(
                f"apply_lora: {name!r} matches target_modules but is a "
                f"{type(module).__name__}, not an nn.Linear"
            )
        if uses[id(module.weight)] > 1:
            raise TinyLMError(
                f"apply_lora: the weight of {name!r} is shared with another layer (tied), "
                "so merging its update would change that layer too"
            )
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        setattr(parent, child, LoRALinear(module, r, lora_alpha, lora_dropout))
        wrapped.append(name)
    if not wrapped:
        raise TinyLMError(
            f"apply_lora: no module of {type(model).__name__} matches target_modules "
            f"{target_modules!r}"
        )
    return wrapped


def _lora_layers(model: Module) -> list[tuple[str, LoRALinear]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, LoRALinear)]


def merge_lora(model: Module) -> Module:
    """:meth:`LoRALinear.merge` on every LoRA layer of ``model``; returns ``model``."""
    for _, layer in _lora_layers(model):
        layer.merge()
    return model


def unmerge_lora(model: Module) -> Module:
    """:meth:`LoRALinear.unmerge` on every LoRA layer of ``model``; returns ``model``."""
    for _, layer in _lora_layers(model):
        layer.unmerge()
    return model


def lora_state_dict(model: Module) -> OrderedDict[str, Tensor]:
    """Only the adapters: ``name → tensor`` for every ``lora_A`` and ``lora_B`` of ``model``
    (detached, sharing memory). Save it with ``tinylm.save``; the frozen backbone is saved
    once, elsewhere."""
    names = {f"{n}.lora_A" if n else "lora_A" for n, _ in _lora_layers(model)}
    names |= {f"{n}.lora_B" if n else "lora_B" for n, _ in _lora_layers(model)}
    out: OrderedDict[str, Tensor] = OrderedDict()
    for key, value in model.state_dict().items():
        if key in names:
            out[key] = value
    return out


def load_lora_state_dict(model: Module, state_dict: Mapping[str, Any]) -> None:
    """Load adapters saved by :func:`lora_state_dict` into a model adapted the same way.

    Every adapter of ``model`` must be in ``state_dict`` and nothing else may be (a key
    that is not an adapter of this model means the adapters belong to another model).
    Load into an unmerged model: a merged weight would keep the old ΔW.

    Raises:
        TinyLMError: naming the missing or unexpected keys, or a merged layer.
    """
    ours = lora_state_dict(model)
    missing = [k for k in ours if k not in state_dict]
    unexpected = [k for k in state_dict if k not in ours]
    if not ours:
        raise TinyLMError("load_lora_state_dict: the model has no LoRA layers (apply_lora first)")
    if missing or unexpected:
        raise TinyLMError(
            f"load_lora_state_dict: the adapters do not fit this model: missing {missing}, "
            f"unexpected {unexpected}"
        )
    merged = [n for n, m in _lora_layers(model) if m.merged]
    if merged:
        raise TinyLMError(f"load_lora_state_dict: unmerge these layers first: {merged}")
    values = {k: v.data if isinstance(v, Tensor) else np.asarray(v) for k, v in state_dict.items()}
    model.load_state_dict(values, strict=False)
