"""tinylm.models: what is model-specific.

* :mod:`tinylm.models.gpt` — ``GPT`` and ``GPTConfig``: embeddings, the tied head, GPT-2's
  initialisation, generation;
* :mod:`tinylm.models.classifier` — ``GPTForSequenceClassification``: a pooled classification
  head on a GPT's hidden states;
* :mod:`tinylm.models.pretrained` — ``pretrained_backbone``: a GPT trained on the built-in
  corpus once, then loaded from the cache.

``pretrained`` trains with ``tinylm.train``, which itself imports ``tinylm.models.gpt``; so it
is imported on first use of its names, not with this package (else ``import tinylm.train``
would come back to a half-imported ``tinylm.train``).
"""

from typing import Any

from tinylm.models.classifier import ClassifierOutput, GPTForSequenceClassification
from tinylm.models.gpt import GPT, GPTConfig

__all__ = [
    "BACKBONES",
    "GPT",
    "ClassifierOutput",
    "GPTConfig",
    "GPTForSequenceClassification",
    "backbone_dir",
    "pretrained_backbone",
]


def __getattr__(name: str) -> Any:
    if name in ("BACKBONES", "backbone_dir", "pretrained_backbone", "pretrained"):
        import importlib

        module = importlib.import_module("tinylm.models.pretrained")
        return module if name == "pretrained" else getattr(module, name)
    raise AttributeError(f"module 'tinylm.models' has no attribute {name!r}")
