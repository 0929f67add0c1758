"""A causal language model's loss with ``labels = input_ids``, then text generated from the
same prompt: the example of 000_e2c3793612ac7dd2.txt §5.2 and §5.4, written with tinylm.

The document loads a pre-trained causal LM and its tokenizer, tokenises
"Hello, I'm a language model.", calls ``model(**inputs, labels=inputs["input_ids"])`` and reads
``outputs.loss``; §5.4 then generates text from that prompt. Here:

1. **Tokenise** with tinylm's byte-level BPE tokenizer (``tinylm.data.BPETokenizer``,
   GPT-2's scheme), trained on the built-in corpus in a second or two (vocabulary 512).
2. **The model** is the GPT pre-trained on the built-in corpus
   (``tinylm.models.pretrained_backbone``, trained on the first run and cached; the backbone
   of the fine-tuning example). It is *character-level*: its tokens are characters, not BPE
   tokens. So the loss is computed the way the document computes it — ``labels`` equal to the
   model's own input ids, the model shifts them — on the character ids of the same text. The
   BPE view is then exact arithmetic on those numbers: the probability the model gives to a
   BPE token's string is the product of its characters' probabilities, so the loss per BPE
   token is the characters' losses summed within each BPE token (the first BPE token is not
   predicted, as the first character is not).
3. **Generate** from the prompt: greedy, then three samples (temperature 0.8, top-k 20), and
   greedy with int8 weights (``tinylm.quantize_int8``), with tokens/s.
4. **One training step** on that loss (§5.3: the loss is what updates the parameters), and
   the loss after it.

    python examples/causal_lm.py            # the default backbone (trained once, ~2 min)
    python examples/causal_lm.py --fast     # the tiny backbone, seconds (the test suite)
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import tinylm
from tinylm.data import BPETokenizer, load_default_corpus
from tinylm.models import pretrained_backbone

PROMPT = "Hello, I'm a language model."


def per_token_losses(model, ids: np.ndarray) -> np.ndarray:
    """−log P(ids[t] | ids[<t]) for t = 1 … T−1 (natural log), from one forward pass."""
    with tinylm.no_grad():
        logits, _ = model(ids[None, :])
    z = logits.numpy()[0, :-1].astype(np.float64)
    log_z = np.log(np.exp(z - z.max(-1, keepdims=True)).sum(-1)) + z.max(-1)
    return log_z - z[np.arange(len(ids) - 1), ids[1:]]


def generate(model, tok, ids: np.ndarray, n: int, **kw) -> tuple[str, float]:
    start = time.perf_counter()
    out = model.generate(ids[None, :], n, **kw).numpy()[0]
    rate = n / (time.perf_counter() - start)
    return tok.decode(out[len(ids) :].tolist()), rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fast", action="store_true", help="the tiny backbone (the tests)")
    parser.add_argument("--max-new-tokens", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.max_new_tokens < 1:
        parser.error("--max-new-tokens must be at least 1")

    # 1. the document's tokenizer call, with a byte-level BPE trained on the built-in corpus
    bpe = BPETokenizer.train(load_default_corpus(), vocab_size=512)
    bpe_ids = bpe.encode(PROMPT)
    pieces = [bpe.decode([i]) for i in bpe_ids]
    print(f"prompt: {PROMPT!r}")
    print(f"1. BPE input_ids ({len(bpe_ids)} tokens, vocabulary {bpe.vocab_size}): {bpe_ids}")
    print(f"   pieces: {pieces}")

    # 2. the loss with labels = input_ids, on the character-level backbone
    model, chars, info = pretrained_backbone("fast" if args.fast else "default")
    model.eval()
    ids = np.array(chars.encode(PROMPT))
    with tinylm.no_grad():
        _, loss = model(ids[None, :], labels=ids[None, :])
    print(
        f"2. backbone {info['name']!r}: {model.config.n_layer} layers × {model.config.n_embd}, "
        f"character-level ({chars.vocab_size} characters); input_ids = {len(ids)} characters"
    )
    print(f"   outputs.loss (labels = input_ids, the model shifts): {loss.item():.4f} nats/char")
    nll = per_token_losses(model, ids)
    assert abs(nll.mean() - loss.item()) < 1e-4  # the same number, computed by hand
    ends = np.cumsum([len(p) for p in pieces])  # each BPE token's last character
    per_bpe = [nll[a - 1 : b - 1].sum() for a, b in zip(ends[:-1], ends[1:])]
    print(
        f"   the same text per BPE token: {np.mean(per_bpe):.4f} nats/token over the "
        f"{len(per_bpe)} predicted BPE tokens ({nll[ends[0] - 1 :].sum():.2f} nats in all)"
    )

    # 3. generation from the prompt (§5.4)
    n = args.max_new_tokens
    text_f, rate = generate(model, chars, ids, n, greedy=True)
    text = text_f
    print(f"3. greedy ({rate:.0f} tokens/s): {PROMPT!r} → {text!r}")
    gen = tinylm.Generator().manual_seed(args.seed)
    for k in range(3):
        text, rate = generate(model, chars, ids, n, temperature=0.8, top_k=20, generator=gen)
        print(f"   sample {k + 1} ({rate:.0f} tokens/s): {PROMPT!r} → {text!r}")
    quantized = tinylm.quantize_int8(pretrained_backbone(info["name"])[0]).eval()
    text_q, rate = generate(quantized, chars, ids, n, greedy=True)
    same = sum(a == b for a, b in zip(text_f, text_q))
    print(f"   greedy, int8 weights ({rate:.0f} tokens/s): {PROMPT!r} → {text_q!r}")
    print(f"   int8 and float32 greedy agree on {same} of {n} characters")

    # 4. what §5.3 says the loss is for: one step of the parameters along its gradient
    model.train()
    optimizer = tinylm.optim.AdamW(model.parameters(), lr=1e-3)
    _, loss = model(ids[None, :], labels=ids[None, :])
    loss.backward()
    optimizer.step()
    with tinylm.no_grad():
        after = model(ids[None, :], labels=ids[None, :])[1].item()
    print(f"4. one AdamW step (lr 1e-3) on that loss: {loss.item():.4f} → {after:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
