"""004_ee8cc4a825598546.txt §5.2 and §5.4: "Translate English to French: I love you" →
"Je t'aime", with tinylm's own encoder-decoder instead of a downloaded T5.

The document loads a pre-trained T5, tokenizes the prefixed sentence, generates and decodes.
Here the model is trained by tinylm on English → French numbers and phrases
(``tinylm.data.translation``): it prints its French for the document's sentence, then for
held-out sentences it never saw in training, marked ✓ when they equal the reference.

Default mode loads the model that an earlier run cached in
``tinylm.environment.cache_dir() / "translate" / "ckpt.npz"`` (``~/.cache/tinylm`` unless
``TINYLM_CACHE`` says otherwise), or trains it there first (``TranslateConfig()``, a few
minutes on two cores). It prints

    Translate English to French: I love you → Je t'aime
    held-out numbers: exact match 100.0 % (greedy), 100.0 % (beam search, 4 beams)
    held-out phrases: exact match 60.0 % (greedy)

``--fast`` trains a tiny model for a few seconds in a temporary folder (no cache); its
translations are mostly wrong, which shows what training buys.

    python examples/translate.py [--fast]
"""

from __future__ import annotations

import argparse
import tempfile

from tinylm.data.translation import TASK_PREFIX, make_translation_task
from tinylm.translate import TINY_SETTINGS, TranslateConfig, cached_translator, train_translator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="a tiny model trained in seconds")
    args = parser.parse_args()
    if args.fast:
        with tempfile.TemporaryDirectory() as tmp:
            cfg = TranslateConfig.from_dict({**TINY_SETTINGS, "out_dir": tmp, "progress": False})
            translator = train_translator(cfg)["translator"]
        print("a tiny model, trained just now for", cfg.max_iters, "iterations")
    else:
        translator, cached = cached_translator()
        print("the model cached by an earlier run" if cached else "trained and cached")

    sentence = TASK_PREFIX + "I love you"
    print(f"{sentence} → {translator.translate(sentence)}")
    print(f"{TASK_PREFIX}Hello, world! → {translator.translate(TASK_PREFIX + 'Hello, world!')}")

    task = make_translation_task(translator.config.data_seed if translator.config else 0)
    print("\nsentences never seen in training (✓ = equal to the reference):")
    shown = task.held_out["numbers"][:4] + task.held_out["number sentences"][:3]
    shown += task.held_out["phrases"]
    for (en, fr), out in zip(shown, translator.translate([en for en, _ in shown])):
        print(f"  {'✓' if out == fr else '✗'} {en} → {out}" + ("" if out == fr else f"   ({fr})"))

    numbers = task.held_out["numbers"]
    greedy = translator.evaluate(numbers)["exact_match"]
    beam = translator.evaluate(numbers, num_beams=4)["exact_match"]
    phrases = translator.evaluate(task.held_out["phrases"])["exact_match"]
    print(
        f"\nheld-out numbers: exact match {greedy:.1%} (greedy), {beam:.1%} (beam search, 4 beams)"
    )
    print(f"held-out phrases: exact match {phrases:.1%} (greedy)")


if __name__ == "__main__":
    main()
