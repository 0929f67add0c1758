"""tinylm.models: what is model-specific.

* :mod:`tinylm.models.gpt` — ``GPT`` and ``GPTConfig``: embeddings, the tied head, GPT-2's
  initialisation, generation;
* :mod:`tinylm.models.classifier` — ``GPTForSequenceClassification``: a pooled classification
  head on a GPT's hidden states;
* :mod:`tinylm.models.pretrained` — ``pretrained_backbone``: a GPT trained on the built-in
  corpus once, then loaded from the cache.
"""

from tinylm.models.classifier import ClassifierOutput, GPTForSequenceClassification
from tinylm.models.gpt import GPT, GPTConfig
from tinylm.models.pretrained import BACKBONES, backbone_dir, pretrained_backbone

__all__ = [
    "BACKBONES",
    "GPT",
    "ClassifierOutput",
    "GPTConfig",
    "GPTForSequenceClassification",
    "backbone_dir",
    "pretrained_backbone",
]
