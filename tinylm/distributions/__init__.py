"""``tinylm.distributions``: PyTorch's probability distributions that language-model and
reinforcement-learning code samples from and scores with (``torch.distributions``).

Each distribution holds a batch of parameters (``batch_shape``) and draws values of
``event_shape``: ``sample(sample_shape)`` (from tinylm's global generator, so
``tinylm.manual_seed`` repeats it), ``rsample`` (differentiable in the parameters, where
reparameterisable), ``log_prob``, ``entropy``, ``mean``, ``mode``, ``variance``, ``stddev``,
``expand``; parameters and values are checked against ``constraints`` while
``validate_args`` is on. Read in this order: ``distribution.py`` (the base), then one file
per family, then ``kl.py``.
"""

from tinylm.distributions import (
    constraints,
    kl,
    kl_families,  # noqa: F401 - registers its KL pairs
)
from tinylm.distributions.bernoulli import Bernoulli
from tinylm.distributions.beta import Beta
from tinylm.distributions.binomial import Binomial
from tinylm.distributions.categorical import Categorical, OneHotCategorical
from tinylm.distributions.dirichlet import Dirichlet
from tinylm.distributions.distribution import Distribution
from tinylm.distributions.exponential import Exponential
from tinylm.distributions.gamma import Gamma
from tinylm.distributions.geometric import Geometric
from tinylm.distributions.independent import Independent
from tinylm.distributions.kl import kl_divergence, register_kl
from tinylm.distributions.laplace import Laplace
from tinylm.distributions.lognormal import LogNormal
from tinylm.distributions.multivariate_normal import MultivariateNormal
from tinylm.distributions.normal import Normal
from tinylm.distributions.poisson import Poisson
from tinylm.distributions.studentt import StudentT
from tinylm.distributions.uniform import Uniform

__all__ = [
    "Bernoulli",
    "Beta",
    "Binomial",
    "Categorical",
    "Dirichlet",
    "Distribution",
    "Exponential",
    "Gamma",
    "Geometric",
    "Independent",
    "Laplace",
    "LogNormal",
    "MultivariateNormal",
    "Normal",
    "OneHotCategorical",
    "Poisson",
    "StudentT",
    "Uniform",
    "constraints",
    "kl",
    "kl_divergence",
    "register_kl",
]
