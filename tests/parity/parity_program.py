"""One source file, two frameworks: a PyTorch program, written as one writes for PyTorch, that
``tests/parity/test_one_source_two_frameworks.py`` runs once with ``torch`` and once with
``tinylm`` bound to the name ``torch``.

``define(torch)`` is the whole program; everything inside it is plain PyTorch (``nn.init``,
``x.size()``, ``register_buffer(persistent=False)``, ``gather``, ``one_hot``, ``topk`` and
``multinomial`` sampling, parameter groups, gradient clipping, a learning-rate schedule). The
only line that knows of two frameworks is its signature: the module passed in is ``torch``.

* :class:`GPT` — a small nanoGPT-style language model: fused q/k/v projection, causal
  attention (by ``F.scaled_dot_product_attention`` or written out with a ``tril`` buffer),
  GELU MLP, pre-norm blocks, weight tying, GPT-2's initialisation, AdamW with decay and
  no-decay groups, top-k sampling.
* :class:`Classifier` — an MLP classifier trained by SGD with momentum on a loss that picks
  the target's log-probability with ``gather`` and adds a label-smoothing term built from
  ``one_hot``, with a step schedule and gradient clipping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import ModuleType, SimpleNamespace
from typing import Any


@dataclass
class GPTConfig:
    block_size: int = 16
    vocab_size: int = 29
    n_layer: int = 2
    n_head: int = 2
    n_embd: int = 16
    dropout: float = 0.0
    bias: bool = True
    flash: bool = True  # F.scaled_dot_product_attention, or attention written out


def define(torch: ModuleType) -> SimpleNamespace:
    """The program, for the framework ``torch`` (PyTorch itself, or tinylm)."""
    nn = torch.nn
    F = torch.nn.functional

    class CausalSelfAttention(nn.Module):
        def __init__(self, config: GPTConfig) -> None:
            super().__init__()
            assert config.n_embd % config.n_head == 0
            self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
            self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
            self.n_head, self.n_embd, self.flash = config.n_head, config.n_embd, config.flash
            mask = torch.tril(torch.ones(config.block_size, config.block_size))
            self.register_buffer(
                "mask", mask.view(1, 1, config.block_size, config.block_size), persistent=False
            )

        def forward(self, x: Any) -> Any:
            B, T, C = x.size()
            q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
            k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            if self.flash:
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=None, is_causal=True)
            else:
                att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
                att = att.masked_fill(self.mask[:, :, :T, :T] == 0, float("-inf"))
                att = F.softmax(att, dim=-1)
                y = att @ v
            y = y.transpose(1, 2).contiguous().view(B, T, C)
            return self.c_proj(y)

    class MLP(nn.Module):
        def __init__(self, config: GPTConfig) -> None:
            super().__init__()
            self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
            self.gelu = nn.GELU(approximate="tanh")
            self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
            self.dropout = nn.Dropout(config.dropout)

        def forward(self, x: Any) -> Any:
            return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))

    class Block(nn.Module):
        def __init__(self, config: GPTConfig) -> None:
            super().__init__()
            self.ln_1 = nn.LayerNorm(config.n_embd)
            self.attn = CausalSelfAttention(config)
            self.ln_2 = nn.LayerNorm(config.n_embd)
            self.mlp = MLP(config)

        def forward(self, x: Any) -> Any:
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self, config: GPTConfig) -> None:
            super().__init__()
            self.config = config
            self.transformer = nn.ModuleDict(
                dict(
                    wte=nn.Embedding(config.vocab_size, config.n_embd),
                    wpe=nn.Embedding(config.block_size, config.n_embd),
                    h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
                    ln_f=nn.LayerNorm(config.n_embd),
                )
            )
            self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
            self.transformer.wte.weight = self.lm_head.weight  # weight tying
            self.apply(self._init_weights)
            for name, p in self.named_parameters():
                if name.endswith("c_proj.weight"):
                    nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

        def _init_weights(self, module: Any) -> None:
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)

        def forward(self, idx: Any, targets: Any = None) -> tuple[Any, Any]:
            b, t = idx.size()
            assert t <= self.config.block_size
            pos = torch.arange(0, t, dtype=torch.long, device=idx.device)
            x = self.transformer.wte(idx) + self.transformer.wpe(pos)
            for block in self.transformer.h:
                x = block(x)
            x = self.transformer.ln_f(x)
            if targets is None:
                return self.lm_head(x[:, [-1], :]), None
            logits = self.lm_head(x)
            loss = F.cross_entropy(
                logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1
            )
            return logits, loss

        def configure_optimizers(self, weight_decay: float, learning_rate: float) -> Any:
            params = [p for p in self.parameters() if p.requires_grad]
            groups = [
                {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
                {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
            ]
            return torch.optim.AdamW(groups, lr=learning_rate, betas=(0.9, 0.95))

        @torch.no_grad()
        def generate(self, idx: Any, max_new_tokens: int, temperature: float = 1.0, top_k=None):
            for _ in range(max_new_tokens):
                idx_cond = (
                    idx
                    if idx.size(1) <= self.config.block_size
                    else idx[:, -self.config.block_size :]
                )
                logits, _ = self(idx_cond)
                logits = logits[:, -1, :] / temperature
                if top_k is not None:
                    v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
                    logits[logits < v[:, [-1]]] = -float("Inf")
                probs = F.softmax(logits, dim=-1)
                idx_next = torch.multinomial(probs, num_samples=1)
                idx = torch.cat((idx, idx_next), dim=1)
            return idx

    class Classifier(nn.Module):
        def __init__(self, n_in: int, n_hidden: int, n_classes: int, smoothing: float = 0.1):
            super().__init__()
            self.net = nn.Sequential(
                nn.Linear(n_in, n_hidden), nn.ReLU(), nn.Linear(n_hidden, n_classes)
            )
            self.n_classes, self.smoothing = n_classes, smoothing
            for m in self.net:
                if isinstance(m, nn.Linear):
                    nn.init.kaiming_uniform_(m.weight, nonlinearity="relu")
                    nn.init.zeros_(m.bias)

        def forward(self, x: Any, y: Any) -> Any:
            logp = F.log_softmax(self.net(x), dim=-1)
            nll = -logp.gather(1, y.unsqueeze(1)).squeeze(1)  # −log p(target), by gather
            q = (1 - self.smoothing) * F.one_hot(y, self.n_classes).to(logp.dtype)
            smoothed = -((q + self.smoothing / self.n_classes) * logp).sum(-1)  # by one_hot
            return (nll + smoothed).sum() / x.size(0)

        def configure_optimizers(self) -> tuple[Any, Any]:
            first, last = self.net[0], self.net[2]
            optimizer = torch.optim.SGD(
                [
                    {"params": first.parameters(), "lr": 0.2},
                    {"params": last.parameters()},
                ],
                lr=0.1,
                momentum=0.9,
                weight_decay=1e-3,
            )
            return optimizer, torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)

    def train(model: Any, optimizer: Any, scheduler: Any, batches: list, clip: float) -> list:
        """A few steps; what each one saw: the loss, the gradient norm before clipping, the
        learning rate, and every parameter's gradient (after clipping)."""
        history = []
        model.train()
        for batch in batches:
            out = model(*batch)
            loss = out[1] if isinstance(out, tuple) else out
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            norm = nn.utils.clip_grad_norm_(model.parameters(), clip)
            grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
            lr = optimizer.param_groups[0]["lr"]
            optimizer.step()
            scheduler.step()
            history.append(dict(loss=loss.item(), norm=norm.item(), lr=lr, grads=grads))
        return history

    return SimpleNamespace(
        GPT=GPT, Classifier=Classifier, train=train, Block=Block, MLP=MLP, torch=torch
    )
