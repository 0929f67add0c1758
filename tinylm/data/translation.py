"""English → French sentence pairs, made by tinylm itself (no download, no dependency).

How the pairs are built:

* **numbers 1–999 in words**, written by the rules in :func:`english_number` and
  :func:`french_number` (British English with "and"; traditional French spelling: hyphens
  below one hundred, "et" without hyphens in 21, 31 … 71, "quatre-vingts" and "deux cents"
  with an s only when nothing follows). The test suite checks both against the ``num2words``
  package when it is installed. Each number appears alone and inside the sentence
  :data:`TEMPLATES` ("I have {n} cats." → "J'ai {n} chats.");
* **a hand-written list of short phrases** (:data:`PHRASES`), among them "Hello, world!" →
  "Bonjour, le monde!" and "I love you" → "Je t'aime".

Held out, never seen in training: a random tenth of the numbers 1–999 (seeded), alone and in
every template, and the phrases of :data:`HELD_OUT_PHRASES`, which recombine words that the
training phrases use ("She loves the cat." from "She loves the dog." and "I see the cat.").

Words are split into tokens by :func:`split_words` (a hyphen, a punctuation mark and an
elided "J'" or "t'" are tokens of their own, so "quatre-vingt-dix-sept" is five tokens built
from the same pieces as every other number) and joined back by :func:`join_words`; each
language has its own word :class:`Vocabulary`. Punctuation follows English typography in both
languages (no space before "!" or "?"), which keeps the join rule one line.

A source sentence may start with T5's task prefix :data:`TASK_PREFIX` ("Translate English to
French: "); :func:`strip_task_prefix` removes it, since this data has one task only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from tinylm.data.errors import DataError

__all__ = [
    "HELD_OUT_PHRASES",
    "PHRASES",
    "TASK_PREFIX",
    "TEMPLATES",
    "TranslationTask",
    "Vocabulary",
    "english_number",
    "french_number",
    "join_words",
    "make_translation_task",
    "pad_sequences",
    "split_words",
    "strip_task_prefix",
]

TASK_PREFIX = "Translate English to French: "

# ---------------------------------------------------------------------------------------
# Numbers in words
# ---------------------------------------------------------------------------------------

_EN_SMALL = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_EN_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_FR_SMALL = (
    "zéro un deux trois quatre cinq six sept huit neuf dix onze douze treize quatorze quinze "
    "seize dix-sept dix-huit dix-neuf"
).split()
_FR_TENS = "_ _ vingt trente quarante cinquante soixante".split()


def _check_number(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or not 1 <= n <= 999:
        raise DataError(f"numbers in words are defined for the integers 1 … 999, got {n!r}")


def english_number(n: int) -> str:
    """n in English words: 21 → "twenty-one", 305 → "three hundred and five"."""
    _check_number(n)
    hundreds, rest = divmod(int(n), 100)
    words = [f"{_EN_SMALL[hundreds]} hundred"] if hundreds else []
    if rest and hundreds:
        words.append("and")
    if rest >= 20:
        tens, unit = divmod(rest, 10)
        words.append(_EN_TENS[tens] + (f"-{_EN_SMALL[unit]}" if unit else ""))
    elif rest:
        words.append(_EN_SMALL[rest])
    return " ".join(words)


def _french_below_100(n: int) -> str:
    """1 … 99. French counts in twenties from 60: 70 = soixante-dix (60 + 10), 80 =
    quatre-vingts (4 × 20), 90 = quatre-vingt-dix (4 × 20 + 10)."""
    if n < 20:
        return _FR_SMALL[n]
    if n < 80:  # 60 … 79 count on from soixante: 77 = soixante-dix-sept
        tens, unit = divmod(n, 10) if n < 60 else (6, n - 60)
        if unit == 0:
            return _FR_TENS[tens]
        if unit in (1, 11):  # 21 vingt et un … 61 soixante et un, 71 soixante et onze
            return f"{_FR_TENS[tens]} et {_FR_SMALL[unit]}"
        return f"{_FR_TENS[tens]}-{_FR_SMALL[unit]}"
    rest = n - 80  # 80 … 99: quatre-vingt(s) + 0 … 19, never with "et"
    return "quatre-vingts" if rest == 0 else f"quatre-vingt-{_FR_SMALL[rest]}"


def french_number(n: int) -> str:
    """n in French words (traditional spelling): 71 → "soixante et onze", 80 →
    "quatre-vingts", 200 → "deux cents", 201 → "deux cent un"."""
    _check_number(n)
    hundreds, rest = divmod(int(n), 100)
    if not hundreds:
        return _french_below_100(rest)
    head = "cent" if hundreds == 1 else f"{_FR_SMALL[hundreds]} cent"
    if not rest:
        return head if hundreds == 1 else head + "s"  # "deux cents", but "deux cent un"
    return f"{head} {_french_below_100(rest)}"


# ---------------------------------------------------------------------------------------
# Sentences
# ---------------------------------------------------------------------------------------

#: (English, French, smallest n): "{}" stands for the number in words. Plural nouns start
#: at 2, and every noun is masculine, so "un" (not "une") is always right.
TEMPLATES: tuple[tuple[str, str, int], ...] = (
    ("I have {} cats.", "J'ai {} chats.", 2),
    ("The number is {}.", "Le nombre est {}.", 1),
    ("There are {} books on the table.", "Il y a {} livres sur la table.", 2),
    ("She is {} years old.", "Elle a {} ans.", 2),
    ("Room {}, please.", "Chambre {}, s'il vous plaît.", 1),
    ("We see {} birds.", "Nous voyons {} oiseaux.", 2),
)

#: Short phrases and sentences, written by hand, every one used in training.
PHRASES: tuple[tuple[str, str], ...] = (
    ("Hello, world!", "Bonjour, le monde!"),
    ("I love you", "Je t'aime"),
    ("I love you too", "Je t'aime aussi"),
    ("Hello!", "Bonjour!"),
    ("Good morning.", "Bonjour."),
    ("Good evening.", "Bonsoir."),
    ("Good night.", "Bonne nuit."),
    ("Goodbye.", "Au revoir."),
    ("See you tomorrow.", "À demain."),
    ("Thank you.", "Merci."),
    ("Thank you very much.", "Merci beaucoup."),
    ("Please.", "S'il vous plaît."),
    ("Yes.", "Oui."),
    ("No.", "Non."),
    ("How are you?", "Comment allez-vous?"),
    ("I am fine.", "Je vais bien."),
    ("Excuse me.", "Excusez-moi."),
    ("I am sorry.", "Je suis désolé."),
    ("Welcome.", "Bienvenue."),
    ("What is your name?", "Comment vous appelez-vous?"),
    ("My name is Marie.", "Je m'appelle Marie."),
    ("I love music.", "J'aime la musique."),
    ("She loves the dog.", "Elle aime le chien."),
    ("He loves the book.", "Il aime le livre."),
    ("We love the house.", "Nous aimons la maison."),
    ("You love the sea.", "Tu aimes la mer."),
    ("I like tea.", "J'aime le thé."),
    ("I like coffee.", "J'aime le café."),
    ("I see the cat.", "Je vois le chat."),
    ("I see the dog.", "Je vois le chien."),
    ("She sees the sea.", "Elle voit la mer."),
    ("He sees the house.", "Il voit la maison."),
    ("We see the car.", "Nous voyons la voiture."),
    ("They see the dog.", "Ils voient le chien."),
    ("I have a cat.", "J'ai un chat."),
    ("I have a dog.", "J'ai un chien."),
    ("She has a car.", "Elle a une voiture."),
    ("He has a book.", "Il a un livre."),
    ("We have a house.", "Nous avons une maison."),
    ("You have a dog.", "Tu as un chien."),
    ("They have a car.", "Ils ont une voiture."),
    ("The cat is black.", "Le chat est noir."),
    ("The dog is small.", "Le chien est petit."),
    ("The house is big.", "La maison est grande."),
    ("The car is red.", "La voiture est rouge."),
    ("The book is new.", "Le livre est nouveau."),
    ("The sea is blue.", "La mer est bleue."),
    ("The cat is small.", "Le chat est petit."),
    ("The dog is black.", "Le chien est noir."),
    ("The book is red.", "Le livre est rouge."),
    ("I want water.", "Je veux de l'eau."),
    ("I want bread.", "Je veux du pain."),
    ("I eat bread.", "Je mange du pain."),
    ("She drinks water.", "Elle boit de l'eau."),
    ("We eat an apple.", "Nous mangeons une pomme."),
    ("He eats an apple.", "Il mange une pomme."),
    ("I drink coffee.", "Je bois du café."),
    ("She drinks coffee.", "Elle boit du café."),
    ("Where is the cat?", "Où est le chat?"),
    ("Where is the station?", "Où est la gare?"),
    ("Where is the book?", "Où est le livre?"),
    ("The cat is here.", "Le chat est ici."),
    ("The book is on the table.", "Le livre est sur la table."),
    ("The cat is on the table.", "Le chat est sur la table."),
    ("The dog is in the house.", "Le chien est dans la maison."),
    ("The book is in the car.", "Le livre est dans la voiture."),
    ("It is cold.", "Il fait froid."),
    ("It is hot.", "Il fait chaud."),
    ("It is late.", "Il est tard."),
    ("The weather is nice.", "Il fait beau."),
    ("I am tired.", "Je suis fatigué."),
    ("I am happy.", "Je suis content."),
    ("I do not know.", "Je ne sais pas."),
    ("I understand.", "Je comprends."),
    ("I do not understand.", "Je ne comprends pas."),
    ("I speak French.", "Je parle français."),
    ("I speak English.", "Je parle anglais."),
    ("Do you speak English?", "Parlez-vous anglais?"),
    ("She speaks French.", "Elle parle français."),
    ("He is here.", "Il est ici."),
    ("He is tired.", "Il est fatigué."),
    ("Translate this sentence.", "Traduisez cette phrase."),
    ("The cat sleeps.", "Le chat dort."),
    ("The dog sleeps.", "Le chien dort."),
    ("The children play.", "Les enfants jouent."),
    ("The sun is shining.", "Le soleil brille."),
    ("I read a book.", "Je lis un livre."),
    ("She reads the book.", "Elle lit le livre."),
    ("We are here.", "Nous sommes ici."),
    ("The station is big.", "La gare est grande."),
)

#: Held-out phrases: never trained on; each word of each also occurs in :data:`PHRASES`.
HELD_OUT_PHRASES: tuple[tuple[str, str], ...] = (
    ("She loves the cat.", "Elle aime le chat."),
    ("He sees the dog.", "Il voit le chien."),
    ("I see the house.", "Je vois la maison."),
    ("We have a dog.", "Nous avons un chien."),
    ("She has a cat.", "Elle a un chat."),
    ("The car is big.", "La voiture est grande."),
    ("The dog is on the table.", "Le chien est sur la table."),
    ("Where is the dog?", "Où est le chien?"),
    ("I drink water.", "Je bois de l'eau."),
    ("He speaks English.", "Il parle anglais."),
    ("The cat is in the house.", "Le chat est dans la maison."),
    ("I want coffee.", "Je veux du café."),
    ("They have a dog.", "Ils ont un chien."),
    ("The dog is here.", "Le chien est ici."),
    ("The house is red.", "La maison est rouge."),
)

# ---------------------------------------------------------------------------------------
# Words and vocabularies
# ---------------------------------------------------------------------------------------

# an elided word with its apostrophe ("J'", "t'"), a word, or one other visible character
_TOKEN = re.compile(r"[^\W\d_]+'|\w+|\S")
_NO_SPACE_BEFORE = {",", ".", "!", "?", ":", ";", "-"}


def strip_task_prefix(text: str) -> str:
    """``text`` without T5's "Translate English to French: " at its start (any case)."""
    text = text.strip()
    if text.lower().startswith(TASK_PREFIX.strip().lower()):
        text = text[len(TASK_PREFIX.strip()) :].strip()
    return text


def split_words(text: str) -> list[str]:
    """Text → word tokens: "J'ai vingt-deux chats." → ["J'", "ai", "vingt", "-", "deux",
    "chats", "."]."""
    return _TOKEN.findall(text)


def join_words(words: Iterable[str]) -> str:
    """The inverse of :func:`split_words` for text written as this module writes it: a space
    between words, none before punctuation or a hyphen, none after a hyphen or an
    apostrophe."""
    out = ""
    for word in words:
        glued = not out or word in _NO_SPACE_BEFORE or out.endswith(("'", "-"))
        out += word if glued else " " + word
    return out


class Vocabulary:
    """Word ↔ id for one language. Ids 0, 1, 2 are the special tokens ``<pad>`` (fills a
    batch's short rows), ``<bos>`` (starts every decoder input) and ``<eos>`` (ends every
    sequence); the words follow, sorted.

    ``encode`` raises a :class:`~tinylm.data.DataError` naming every word it does not know
    (a word-level model cannot represent a word it never saw).
    """

    SPECIALS = ("<pad>", "<bos>", "<eos>")
    pad_id, bos_id, eos_id = 0, 1, 2

    def __init__(self, words: Iterable[str], language: str = "text") -> None:
        words = sorted(set(words) - set(self.SPECIALS))
        self.language = language
        self.itos: list[str] = [*self.SPECIALS, *words]
        self.stoi: dict[str, int] = {w: i for i, w in enumerate(self.itos)}

    @classmethod
    def from_sentences(cls, sentences: Iterable[str], language: str = "text") -> Vocabulary:
        return cls((w for s in sentences for w in split_words(s)), language)

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str, eos: bool = False) -> list[int]:
        """Text → ids (with ``<eos>`` appended when ``eos``)."""
        words = split_words(text)
        unknown = sorted({w for w in words if w not in self.stoi})
        if unknown:
            shown = ", ".join(repr(w) for w in unknown[:8])
            raise DataError(
                f"{len(unknown)} word(s) not in the {self.language} vocabulary: {shown}"
                + (f" and {len(unknown) - 8} more" if len(unknown) > 8 else "")
            )
        ids = [self.stoi[w] for w in words]
        return ids + [self.eos_id] if eos else ids

    def decode(self, ids: Iterable[int]) -> str:
        """Ids → text: stops at the first ``<eos>``, skips ``<pad>`` and ``<bos>``."""
        words = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self.itos):
                raise DataError(f"token id {i} is out of range for a vocabulary of {len(self)}")
            if i == self.eos_id:
                break
            if i not in (self.pad_id, self.bos_id):
                words.append(self.itos[i])
        return join_words(words)

    def to_json(self) -> str:
        words = self.itos[len(self.SPECIALS) :]
        obj = {"type": "tinylm.Vocabulary", "language": self.language, "words": words}
        return json.dumps(obj, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Vocabulary:
        try:
            obj = json.loads(text)
            if obj.get("type") != "tinylm.Vocabulary":
                raise ValueError(f"type is {obj.get('type')!r}")
            return cls(obj["words"], obj["language"])
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise DataError(f"not a tinylm vocabulary ({e})") from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.itos == other.itos

    def __repr__(self) -> str:
        return f"Vocabulary({self.language}, {len(self)} tokens)"


def pad_sequences(seqs: Sequence[Sequence[int]], pad_id: int = 0) -> np.ndarray:
    """Lists of ids of different lengths → (N, longest) int64, short rows filled with
    ``pad_id`` on the right."""
    out = np.full((len(seqs), max((len(s) for s in seqs), default=0)), pad_id, dtype=np.int64)
    for row, s in zip(out, seqs):
        row[: len(s)] = s
    return out


# ---------------------------------------------------------------------------------------
# The task: training pairs, held-out splits, vocabularies, batches
# ---------------------------------------------------------------------------------------


@dataclass
class TranslationTask:
    """The English → French data with its splits and vocabularies.

    Attributes:
        train: (English, French) training pairs, phrases repeated ``phrase_repeats`` times.
        held_out: name → pairs never trained on: ``"numbers"`` (the held-out numbers alone),
            ``"number sentences"`` (the same numbers in every template) and ``"phrases"``.
        held_out_numbers: the held-out integers.
        source_vocab, target_vocab: English and French words (every held-out word also
            occurs in training).
    """

    train: list[tuple[str, str]]
    held_out: dict[str, list[tuple[str, str]]]
    held_out_numbers: list[int]
    source_vocab: Vocabulary
    target_vocab: Vocabulary

    def encode(self, pairs: Sequence[tuple[str, str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pairs → (src (B, S), tgt_in (B, T), tgt_out (B, T)), int64, padded with 0.

        src = x + <eos>; tgt_in = <bos> + y; tgt_out = y + <eos>, the next token at each
        position of tgt_in (teacher forcing: the decoder reads the true prefix).
        """
        src = [self.source_vocab.encode(strip_task_prefix(en), eos=True) for en, _ in pairs]
        tgt = [self.target_vocab.encode(fr) for _, fr in pairs]
        bos, eos = Vocabulary.bos_id, Vocabulary.eos_id
        return (
            pad_sequences(src),
            pad_sequences([[bos, *t] for t in tgt]),
            pad_sequences([[*t, eos] for t in tgt]),
        )

    def batch(
        self, batch_size: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``batch_size`` training pairs drawn uniformly (with replacement), encoded."""
        picks = rng.integers(0, len(self.train), size=batch_size)
        return self.encode([self.train[i] for i in picks])

    def max_lengths(self) -> tuple[int, int]:
        """The longest source (with <eos>) and decoder sequence (with <bos>) in the data."""
        pairs = self.train + [p for split in self.held_out.values() for p in split]
        src, tgt_in, _ = self.encode(pairs)
        return src.shape[1], tgt_in.shape[1]


def make_translation_task(
    seed: int = 0,
    held_out_fraction: float = 0.1,
    phrase_repeats: int = 8,
    shared_vocab: bool = False,
) -> TranslationTask:
    """Build the pairs and splits described in the module docstring.

    ``seed`` picks the held-out numbers (``held_out_fraction`` of 1–999); every number
    appears alone and in each template that allows it. The hand-written phrases are few
    next to the number sentences, so training sees each ``phrase_repeats`` times.
    ``shared_vocab``: one vocabulary of both languages' words, used on both sides (for a
    model with shared embeddings).
    """
    if not 0.0 < held_out_fraction < 1.0:
        raise DataError(f"held_out_fraction must be in (0, 1), got {held_out_fraction}")
    if (
        isinstance(phrase_repeats, bool)
        or not isinstance(phrase_repeats, int)
        or phrase_repeats < 1
    ):
        raise DataError(f"phrase_repeats must be a positive int, got {phrase_repeats!r}")
    numbers = np.random.default_rng(seed).permutation(np.arange(1, 1000))
    n_held = round(999 * held_out_fraction)
    held, seen = sorted(int(n) for n in numbers[:n_held]), sorted(int(n) for n in numbers[n_held:])

    def with_templates(ns: list[int]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        alone = [(english_number(n), french_number(n)) for n in ns]
        sentences = [
            (en.format(english_number(n)), fr.format(french_number(n)))
            for n in ns
            for en, fr, smallest in TEMPLATES
            if n >= smallest
        ]
        return alone, sentences

    train_alone, train_sentences = with_templates(seen)
    held_alone, held_sentences = with_templates(held)
    train = train_alone + train_sentences + list(PHRASES) * phrase_repeats
    held_out = {
        "numbers": held_alone,
        "number sentences": held_sentences,
        "phrases": list(HELD_OUT_PHRASES),
    }
    everything = train + [p for split in held_out.values() for p in split]
    if shared_vocab:
        both = Vocabulary.from_sentences((s for p in everything for s in p), "English-French")
        source_vocab = target_vocab = both
    else:
        source_vocab = Vocabulary.from_sentences((en for en, _ in everything), "English")
        target_vocab = Vocabulary.from_sentences((fr for _, fr in everything), "French")
    return TranslationTask(train, held_out, held, source_vocab, target_vocab)
