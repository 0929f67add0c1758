"""The English → French data: number words (by hand and against num2words), tokens that
join back to the text, held-out splits that never leak into training, vocabularies."""

from __future__ import annotations

import re

import pytest

from tinylm.data import DataError
from tinylm.data.translation import (
    HELD_OUT_PHRASES,
    PHRASES,
    TEMPLATES,
    Vocabulary,
    english_number,
    french_number,
    join_words,
    make_translation_task,
    pad_sequences,
    split_words,
    strip_task_prefix,
)

KNOWN = {
    1: ("one", "un"),
    16: ("sixteen", "seize"),
    17: ("seventeen", "dix-sept"),
    21: ("twenty-one", "vingt et un"),
    60: ("sixty", "soixante"),
    61: ("sixty-one", "soixante et un"),
    70: ("seventy", "soixante-dix"),
    71: ("seventy-one", "soixante et onze"),
    77: ("seventy-seven", "soixante-dix-sept"),
    80: ("eighty", "quatre-vingts"),
    81: ("eighty-one", "quatre-vingt-un"),
    91: ("ninety-one", "quatre-vingt-onze"),
    100: ("one hundred", "cent"),
    101: ("one hundred and one", "cent un"),
    200: ("two hundred", "deux cents"),
    201: ("two hundred and one", "deux cent un"),
    280: ("two hundred and eighty", "deux cent quatre-vingts"),
    999: ("nine hundred and ninety-nine", "neuf cent quatre-vingt-dix-neuf"),
}


@pytest.mark.parametrize("n", sorted(KNOWN))
def test_number_words_by_hand(n):
    assert (english_number(n), french_number(n)) == KNOWN[n]


def test_number_words_equal_num2words_for_1_to_999():
    num2words = pytest.importorskip("num2words").num2words
    for n in range(1, 1000):
        assert english_number(n) == num2words(n, lang="en"), n
        assert french_number(n) == num2words(n, lang="fr"), n


@pytest.mark.parametrize("bad", [0, 1000, -3, 2.5, True])
def test_numbers_outside_1_999_are_refused(bad):
    with pytest.raises(DataError, match="1 … 999"):
        french_number(bad)


def test_split_and_join_round_trip_every_sentence():
    task = make_translation_task()
    pairs = task.train + [p for split in task.held_out.values() for p in split]
    for pair in pairs:
        for text in pair:
            assert join_words(split_words(text)) == text
    assert split_words("J'ai quatre-vingt-un chats.") == [
        "J'", "ai", "quatre", "-", "vingt", "-", "un", "chats", ".",
    ]  # fmt: skip


def test_held_out_never_leaks_into_training():
    task = make_translation_task(seed=3)
    train_sources = {en for en, _ in task.train}
    assert len(task.held_out_numbers) == 100
    for name, pairs in task.held_out.items():
        assert pairs and not {en for en, _ in pairs} & train_sources, name
    # no training sentence holds a held-out number, alone or in a template
    patterns = [re.compile(re.escape(en).replace(r"\{\}", "(.+)")) for en, _, _ in TEMPLATES]
    held = {english_number(n) for n in task.held_out_numbers}
    for en in train_sources:
        for pattern in patterns:
            match = pattern.fullmatch(en)
            if match:
                assert match.group(1) not in held, en
        assert en not in held
    # ... and each word of a held-out pair is one that training uses
    train_words = {w for pair in task.train for text in pair for w in split_words(text)}
    for pairs in task.held_out.values():
        for pair in pairs:
            assert set(split_words(pair[0] + " " + pair[1])) <= train_words, pair
    assert set(PHRASES).isdisjoint(HELD_OUT_PHRASES)


def test_task_is_reproducible_and_the_seed_moves_the_split():
    a, b, c = make_translation_task(0), make_translation_task(0), make_translation_task(1)
    assert a.held_out_numbers == b.held_out_numbers != c.held_out_numbers
    assert a.train == b.train
    n_templates = len(TEMPLATES)
    assert len(a.held_out["number sentences"]) <= n_templates * 100


def test_batches_are_teacher_forcing_pairs():
    task = make_translation_task()
    src, tgt_in, tgt_out = task.encode([("I love you", "Je t'aime"), ("Yes.", "Oui.")])
    v = task.target_vocab
    assert src[0, -1] == src[1, 2] == Vocabulary.eos_id and src[1, 3] == Vocabulary.pad_id
    assert tgt_in[0].tolist() == [Vocabulary.bos_id, *v.encode("Je t'aime")]
    assert tgt_out[0].tolist() == [*v.encode("Je t'aime"), Vocabulary.eos_id]
    real = tgt_in[:, 1:] != Vocabulary.pad_id
    assert (tgt_in[:, 1:] == tgt_out[:, :-1])[real].all()  # the next token at each position
    assert v.decode(tgt_out[1]) == "Oui."


def test_task_prefix_is_accepted():
    assert strip_task_prefix("Translate English to French: I love you") == "I love you"
    assert strip_task_prefix("translate english to french:   Hello, world!") == "Hello, world!"
    assert strip_task_prefix("I love you") == "I love you"


def test_vocabulary_errors_name_the_words_and_json_round_trips():
    task = make_translation_task()
    with pytest.raises(
        DataError, match=r"2 word\(s\) not in the English vocabulary: 'dogs', 'purple'"
    ):
        task.source_vocab.encode("I see purple dogs.")
    with pytest.raises(DataError, match="out of range"):
        task.target_vocab.decode([10_000])
    again = Vocabulary.from_json(task.target_vocab.to_json())
    assert again == task.target_vocab and again.language == "French"
    with pytest.raises(DataError, match="not a tinylm vocabulary"):
        Vocabulary.from_json('{"type": "other"}')
    shared = make_translation_task(shared_vocab=True)
    assert shared.source_vocab is shared.target_vocab
    assert len(shared.source_vocab) > len(task.source_vocab)


def test_pad_sequences():
    assert pad_sequences([[3, 4, 5], [6]], pad_id=0).tolist() == [[3, 4, 5], [6, 0, 0]]
