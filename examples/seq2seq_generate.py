"""003_04a4d4a3ded008c0.txt §5.2: encode "Hello, world!", generate, decode — each stage
printed — with tinylm's encoder-decoder in place of the document's pre-trained T5.

The document's T5 (without a task prefix) hands "Hello, world!" back unchanged (§5.4). This
model was trained by tinylm to translate English into French, so the same three stages
give French:

    1. tokenize: the words and their ids in the English vocabulary, ending with <eos>;
    2. encode: the encoder turns the ids into one vector per token (the *memory*);
    3. generate: the decoder starts from <bos> and appends the most probable next token
       (greedy) until <eos>, reading the memory through cross-attention at every step;
    4. decode: the ids back to French words, special tokens skipped.

Then it times generation on the 600 held-out number sentences in one batch (best of three):
greedy with the KV cache, greedy re-running the whole prefix each step, and beam search, in
generated tokens per second.

Default mode loads the model cached under ``tinylm.environment.cache_dir() / "translate"``
by an earlier run (or trains and caches it there first, a few minutes on two cores). It prints

    decoded: Bonjour, le monde!

and generation speeds that depend on the machine (lesson 11 states those of a 2-core VM).
``--fast`` trains a tiny model for a few seconds instead (no cache); its output is not yet
French.

    python examples/seq2seq_generate.py [--fast]
"""

from __future__ import annotations

import argparse
import tempfile
import time

from tinylm.data.translation import Vocabulary, make_translation_task, split_words
from tinylm.translate import TINY_SETTINGS, TranslateConfig, cached_translator, train_translator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="a tiny model trained in seconds")
    args = parser.parse_args()
    if args.fast:
        with tempfile.TemporaryDirectory() as tmp:
            cfg = TranslateConfig.from_dict({**TINY_SETTINGS, "out_dir": tmp, "progress": False})
            translator = train_translator(cfg)["translator"]
    else:
        translator, _ = cached_translator()
    model, source, target = translator.model, translator.source_vocab, translator.target_vocab

    text = "Hello, world!"
    print(f"input text: {text!r}")
    ids = translator.encode_sources([text])
    print(f"1. tokens:  {split_words(text) + ['<eos>']}")
    print(f"   ids:     {ids[0].tolist()}")
    memory, _ = model.encode(ids)
    print(f"2. memory:  {memory.shape} (batch, source tokens, width); first values "
          f"{[round(float(v), 3) for v in memory.detach().numpy()[0, 0, :4]]}")  # fmt: skip
    out = model.generate(ids).numpy()[0]
    print(f"3. generated ids: {out.tolist()}")
    print(f"   as tokens:     {[target.itos[i] for i in out]}")
    print(f"4. decoded: {target.decode(out)}")

    sentences = [en for en, _ in make_translation_task().held_out["number sentences"]]
    print(f"\ngeneration speed on {len(sentences)} held-out number sentences, one batch:")
    for name, kw in (("greedy, KV cache", {}), ("greedy, no cache", {"use_cache": False}),
                     ("beam search (4), KV cache", {"num_beams": 4})):  # fmt: skip
        seconds = []
        for _ in range(1 if args.fast else 3):  # the best of three: shared cores are noisy
            start = time.perf_counter()
            rows = translator.generate(sentences, **kw)
            seconds.append(time.perf_counter() - start)
        seconds = min(seconds)
        tokens = int(((rows != Vocabulary.pad_id) & (rows != Vocabulary.bos_id)).sum())
        print(f"  {name:26s} {tokens / seconds:8,.0f} tokens/s ({tokens} tokens, {seconds:.2f} s)")
    assert source.vocab_size == model.config.src_vocab_size


if __name__ == "__main__":
    main()
