"""PyTorch's own tutorial "Language Modeling with nn.Transformer", as a PyTorch user writes
it, for ``tests/parity/test_tutorial_transformer.py`` to run once with ``torch`` and once
with ``tinylm`` bound to the name ``torch``.

The model and training step follow the tutorial's: sinusoidal positional encoding written
with ``torch.sin``/``torch.cos`` into a registered buffer, ``nn.TransformerEncoderLayer`` and
``nn.TransformerEncoder`` (sequence-first), ``nn.Transformer.generate_square_subsequent_mask``,
``nn.CrossEntropyLoss``, SGD with ``StepLR`` and ``clip_grad_norm_``, and its
``batchify``/``get_batch`` data layout. One line differs, and says so: the tutorial fills the
embedding with ``weight.data.uniform_(...)``, where tinylm's ``.data`` is the NumPy array
(README, "Coming from PyTorch"); ``nn.init.uniform_`` is the same thing in both.
"""

from __future__ import annotations

import math
from types import ModuleType, SimpleNamespace
from typing import Any


def define(torch: ModuleType) -> SimpleNamespace:
    """The tutorial's program, for the framework ``torch`` (PyTorch itself, or tinylm)."""
    nn = torch.nn

    class PositionalEncoding(nn.Module):
        def __init__(self, d_model: int, dropout: float = 0.1, max_len: int = 5000):
            super().__init__()
            self.dropout = nn.Dropout(p=dropout)
            position = torch.arange(max_len).unsqueeze(1)
            div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
            pe = torch.zeros(max_len, 1, d_model)
            pe[:, 0, 0::2] = torch.sin(position * div_term)
            pe[:, 0, 1::2] = torch.cos(position * div_term)
            self.register_buffer("pe", pe)

        def forward(self, x: Any) -> Any:
            """x: (seq_len, batch_size, embedding_dim)"""
            x = x + self.pe[: x.size(0)]
            return self.dropout(x)

    class TransformerModel(nn.Module):
        def __init__(
            self, ntoken: int, d_model: int, nhead: int, d_hid: int, nlayers: int, dropout: float
        ):
            super().__init__()
            self.model_type = "Transformer"
            self.pos_encoder = PositionalEncoding(d_model, dropout)
            encoder_layers = nn.TransformerEncoderLayer(d_model, nhead, d_hid, dropout)
            self.transformer_encoder = nn.TransformerEncoder(
                encoder_layers, nlayers, enable_nested_tensor=False
            )
            self.embedding = nn.Embedding(ntoken, d_model)
            self.d_model = d_model
            self.linear = nn.Linear(d_model, ntoken)
            self.init_weights()

        def init_weights(self) -> None:
            initrange = 0.1
            nn.init.uniform_(self.embedding.weight, -initrange, initrange)  # tutorial: .data
            nn.init.zeros_(self.linear.bias)
            nn.init.uniform_(self.linear.weight, -initrange, initrange)

        def forward(self, src: Any, src_mask: Any = None) -> Any:
            """src (seq_len, batch_size) → logits (seq_len, batch_size, ntoken)"""
            src = self.embedding(src) * math.sqrt(self.d_model)
            src = self.pos_encoder(src)
            if src_mask is None:
                src_mask = nn.Transformer.generate_square_subsequent_mask(len(src))
            output = self.transformer_encoder(src, src_mask)
            return self.linear(output)

    def batchify(data: Any, bsz: int) -> Any:
        """Divides the data into ``bsz`` separate sequences: (N,) → (N // bsz, bsz)."""
        seq_len = data.size(0) // bsz
        data = data[: seq_len * bsz]
        return data.view(bsz, seq_len).t().contiguous()

    def get_batch(source: Any, i: int, bptt: int) -> tuple[Any, Any]:
        seq_len = min(bptt, len(source) - 1 - i)
        data = source[i : i + seq_len]
        target = source[i + 1 : i + 1 + seq_len].reshape(-1)
        return data, target

    def train(model: Any, train_data: Any, bptt: int, ntokens: int, lr: float) -> list[dict]:
        criterion = nn.CrossEntropyLoss()
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 1.0, gamma=0.95)
        model.train()
        history = []
        for i in range(0, train_data.size(0) - 1, bptt):
            data, targets = get_batch(train_data, i, bptt)
            output = model(data)
            output_flat = output.view(-1, ntokens)
            loss = criterion(output_flat, targets)
            optimizer.zero_grad()
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            grads = {n: p.grad.clone() for n, p in model.named_parameters()}
            optimizer.step()
            scheduler.step()
            history.append(
                {"loss": loss.item(), "norm": float(norm), "lr": scheduler.get_last_lr()[0],
                 "grads": grads}
            )  # fmt: skip
        return history

    return SimpleNamespace(
        torch=torch, TransformerModel=TransformerModel, batchify=batchify, train=train
    )
