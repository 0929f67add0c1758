"""tinylm.optim: optimizers, gradient clipping and learning-rate schedules.

* :class:`SGD` (momentum, Nesterov, weight decay), :class:`Adam`, :class:`AdamW`,
  :class:`RMSprop`, :class:`Adagrad`; :class:`NAdam`, :class:`RAdam`, :class:`Adamax`
  (``adam_variants.py``), :class:`Adadelta`, :class:`Rprop`, :class:`ASGD` (``classic.py``);
* :class:`Adafactor` (``adafactor.py``): factored second moments, row and column statistics;
* :class:`LBFGS` (``lbfgs.py``): quasi-Newton steps with a closure, optional strong-Wolfe
  line search; :class:`Muon` (``muon.py``): momentum orthogonalised by Newton–Schulz;
* :func:`clip_grad_norm_`;
* :mod:`tinylm.optim.lr_scheduler`: ``LambdaLR``, ``StepLR``, ``ExponentialLR``, ``LinearLR``,
  ``CosineAnnealingLR``, ``OneCycleLR``, ``ReduceLROnPlateau``, ``MultiStepLR``, ``ConstantLR``,
  ``MultiplicativeLR``, ``PolynomialLR``, ``CosineAnnealingWarmRestarts``, ``CyclicLR``,
  ``SequentialLR``, ``ChainedScheduler``, ``WarmupCosineLR``,
  ``get_linear_schedule_with_warmup`` (BERT's fine-tuning schedule);
* :mod:`tinylm.optim.swa_utils`: ``AveragedModel`` (SWA / EMA of weights), ``SWALR``,
  ``update_bn``;
* :func:`weight_decay_groups`: decay matrices, not biases or LayerNorm weights.
"""

from tinylm.optim import lr_scheduler, swa_utils
from tinylm.optim.adafactor import Adafactor
from tinylm.optim.adam import Adam, AdamW
from tinylm.optim.adam_variants import Adamax, NAdam, RAdam
from tinylm.optim.classic import ASGD, Adadelta, Rprop
from tinylm.optim.clip_grad import clip_grad_norm_
from tinylm.optim.lbfgs import LBFGS
from tinylm.optim.muon import Muon
from tinylm.optim.optimizer import Optimizer, weight_decay_groups
from tinylm.optim.rmsprop import Adagrad, RMSprop
from tinylm.optim.sgd import SGD

__all__ = [
    "ASGD",
    "SGD",
    "Adadelta",
    "Adafactor",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "LBFGS",
    "Muon",
    "NAdam",
    "RAdam",
    "Rprop",
    "Optimizer",
    "RMSprop",
    "clip_grad_norm_",
    "lr_scheduler",
    "swa_utils",
    "weight_decay_groups",
]
