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


def nanogpt_plan(
    config: dict[str, Any],
    n_train: int,
    n_val: int,
    iters: int,
    batch_size: int,
    seed: int = 1337,
    eval_interval: int = 250,
    eval_iters: int = 20,
) -> dict[str, np.ndarray]:
    """Initial weights and every batch of nanoGPT's ``train.py`` run, drawn as it draws them.

    nanoGPT seeds PyTorch's CPU generator once (``torch.manual_seed(1337)``) and then takes
    every random number from it, in this order:

    1. the module constructors: ``nn.Embedding`` draws N(0, 1) for ``wte`` and ``wpe``, then
       each block's four ``nn.Linear`` draw Kaiming-uniform weights (and uniform biases
       when ``bias``), then ``lm_head``;
    2. ``self.apply(_init_weights)``, children before parents: N(0, 0.02) for ``wte``,
       ``wpe``, each block's ``c_attn, c_proj, c_fc, c_proj`` and finally ``lm_head``,
       whose values ``wte`` shares (weight tying), so the first ``wte`` draw is overwritten;
    3. each ``c_proj.weight`` again, N(0, 0.02 / sqrt(2 n_layer)), in parameter order;
    4. ``torch.randint`` for the batch starts: one training batch before the loop, then at
       every ``eval_interval``-th step ``eval_iters`` train and ``eval_iters`` val batches
       (``estimate_loss``), then the next training batch during each step.

    Drawing the same tensors in the same order from the same seed gives the same numbers,
    so tinylm and the PyTorch model can both be trained on nanoGPT's exact run.

    Args:
        config: the model config (``vocab_size, block_size, n_layer, n_embd, bias``).
        n_train, n_val: lengths of the token arrays (nanoGPT splits at ``int(0.9 * N)``).
        iters: training steps; the evaluation that nanoGPT prints at step ``iters`` is the
            one returned.

    Returns:
        ``state``: tinylm ``state_dict`` names -> float32 arrays;
        ``train_starts``: ``(iters, batch_size)`` window starts, one row per step;
        ``eval_train_starts``, ``eval_val_starts``: ``(eval_iters, batch_size)`` each, the
        batches of nanoGPT's evaluation at step ``iters``.
    """
    C, L, V, T = config["n_embd"], config["n_layer"], config["vocab_size"], config["block_size"]
    bias = config["bias"]
    model = TorchGPT(config)  # gives the names; its weights are overwritten below
    gen = torch.manual_seed(seed)
    # 1. constructors (their own initialisations consume the generator)
    wte, wpe = nn.Embedding(V, C), nn.Embedding(T, C)
    blocks = [
        {
            "attn.c_attn": nn.Linear(C, 3 * C, bias=bias),
            "attn.c_proj": nn.Linear(C, C, bias=bias),
            "mlp.c_fc": nn.Linear(C, 4 * C, bias=bias),
            "mlp.c_proj": nn.Linear(4 * C, C, bias=bias),
        }
        for _ in range(L)
    ]
    lm_head = nn.Linear(C, V, bias=False)
    with torch.no_grad():
        # 2. _init_weights in module order
        linears = [lin for blk in blocks for lin in blk.values()]
        for w in [wte.weight, wpe.weight] + [lin.weight for lin in linears] + [lm_head.weight]:
            nn.init.normal_(w, 0.0, 0.02)
        for lin in linears:
            if lin.bias is not None:
                nn.init.zeros_(lin.bias)
        # 3. the residual projections again, scaled down
        for blk in blocks:
            for name in ("attn.c_proj", "mlp.c_proj"):
                nn.init.normal_(blk[name].weight, 0.0, 0.02 / math.sqrt(2 * L))
        # the draws, into the model that has tinylm's names (LayerNorms stay 1 and 0)
        model.wte.weight.copy_(lm_head.weight)  # tied: lm_head.weight is the same tensor
        model.wpe.weight.copy_(wpe.weight)
        for block, drawn in zip(model.h, blocks):
            for name, lin in drawn.items():
                block.get_submodule(name).load_state_dict(lin.state_dict())
    plan = {k: v.numpy().astype(np.float32) for k, v in model.state_dict().items()}

    # 4. batch starts, in the order train.py draws them
    def starts(n: int) -> np.ndarray:
        return torch.randint(n - T, (batch_size,), generator=gen).numpy()

    train_starts = [starts(n_train)]  # fetched before the loop
    for it in range(iters + 1):
        if it % eval_interval == 0:
            ev_train = [starts(n_train) for _ in range(eval_iters)]
            ev_val = [starts(n_val) for _ in range(eval_iters)]
        if it == iters:
            break
        train_starts.append(starts(n_train))  # the next step's batch, fetched during this one
    plan["train_starts"] = np.stack(train_starts[:iters])
    plan["eval_train_starts"] = np.stack(ev_train)
    plan["eval_val_starts"] = np.stack(ev_val)
    return plan
