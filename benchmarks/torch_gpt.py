"""The tinylm GPT written in PyTorch, module for module and name for name.

Used only as an oracle (tests compare losses and gradients in float64) and as the
benchmark baseline (`benchmarks/bench_gpt.py`). Parameter names match
``tinylm.models.gpt.GPT.state_dict()``, so weights copy across with
:func:`load_tinylm_state`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd: int, n_head: int, bias: bool, dropout: float) -> None:
        super().__init__()
        self.n_head = n_head
        self.c_attn = nn.Linear(n_embd, 3 * n_embd, bias=bias)
        self.c_proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.dropout = dropout
        self.resid_dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        y = F.scaled_dot_product_attention(
            q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0
        )
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, n_embd: int, bias: bool, dropout: float) -> None:
        super().__init__()
        self.c_fc = nn.Linear(n_embd, 4 * n_embd, bias=bias)
        self.c_proj = nn.Linear(4 * n_embd, n_embd, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x), approximate="tanh")))


class Block(nn.Module):
    def __init__(self, n_embd: int, n_head: int, bias: bool, dropout: float) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd, bias=bias)
        self.attn = CausalSelfAttention(n_embd, n_head, bias, dropout)
        self.ln_2 = nn.LayerNorm(n_embd, bias=bias)
        self.mlp = MLP(n_embd, bias, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class TorchGPT(nn.Module):
    """Same architecture as ``tinylm.models.gpt.GPT`` (config given as a dict)."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        self.config = config
        C = config["n_embd"]
        self.wte = nn.Embedding(config["vocab_size"], C)
        self.wpe = nn.Embedding(config["block_size"], C)
        self.drop = nn.Dropout(config["dropout"])
        self.h = nn.ModuleList(
            [
                Block(C, config["n_head"], config["bias"], config["dropout"])
                for _ in range(config["n_layer"])
            ]
        )
        self.ln_f = nn.LayerNorm(C, bias=config["bias"])
        self.lm_head = nn.Linear(C, config["vocab_size"], bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying, as in tinylm
        std = 0.02
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, 0.0, std / math.sqrt(2 * config["n_layer"]))
            elif name.endswith(".weight") and p.ndim == 2:
                nn.init.normal_(p, 0.0, std)
            elif name.endswith(".bias"):
                nn.init.zeros_(p)

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        B, T = idx.shape
        pos = torch.arange(T, device=idx.device)
        x = self.drop(self.wte(idx) + self.wpe(pos))
        for block in self.h:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(B * T, -1), targets.view(B * T))
        return logits, loss

    def configure_optimizers(
        self, lr: float, weight_decay: float, betas: tuple[float, float]
    ) -> torch.optim.AdamW:
        decay = [p for p in self.parameters() if p.ndim >= 2]
        no_decay = [p for p in self.parameters() if p.ndim < 2]
        groups = [
            {"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ]
        return torch.optim.AdamW(groups, lr=lr, betas=betas, foreach=False)


def load_tinylm_state(model: TorchGPT, state: dict[str, Any]) -> None:
    """Copy a tinylm ``state_dict`` (name -> Tensor or array) into the torch model."""
    own = model.state_dict()
    with torch.no_grad():
        for name, value in state.items():
            array = value.numpy() if hasattr(value, "numpy") else np.asarray(value)
            own[name].copy_(torch.from_numpy(np.ascontiguousarray(array)))
