"""More same-family pairs for ``kl_divergence(p, q)``, registered with ``kl.register_kl`` as
PyTorch has them; each composed of differentiable tensor ops (ψ = digamma, Γ = gamma):

    Exponential ‖ Exponential   λq/λp − 1 − log(λq/λp)
    Laplace ‖ Laplace           −log(bp/bq) + |μp − μq|/bq + (bp/bq) e^(−|μp − μq|/bp) − 1
    Gamma ‖ Gamma               αq log(βp/βq) + log Γ(αq) − log Γ(αp) + (αp − αq) ψ(αp)
                                + (βq − βp) αp/βp
    Beta ‖ Beta                 log B(αq, βq) − log B(αp, βp) + (αp − αq) ψ(αp)
                                + (βp − βq) ψ(βp) + (αq + βq − αp − βp) ψ(αp + βp)
    Dirichlet ‖ Dirichlet       log Γ(Σp) − log Γ(Σq) − Σ_k (log Γ(p_k) − log Γ(q_k))
                                + Σ_k (p_k − q_k)(ψ(p_k) − ψ(Σp))
    Poisson ‖ Poisson           λp (log λp − log λq) − (λp − λq)
    LogNormal ‖ LogNormal       the KL of their Normals (exp is one-to-one)
    Geometric ‖ Geometric       −H(p) − log(1 − q)/p − lq      (lq: q's logits)
    Binomial ‖ Binomial         n (p (lp − lq) + log(1 − p) − log(1 − q)), +inf where np > nq
    MultivariateNormal pair     Σ log Lq_ii − Σ log Lp_ii
                                + ½ (‖Lq⁻¹ Lp‖²_F + ‖Lq⁻¹ (μq − μp)‖² − D)
"""

from __future__ import annotations

import math

import numpy as np

from tinylm.autograd import TinyLMError
from tinylm.creation import where
from tinylm.distributions.beta import Beta, log_beta
from tinylm.distributions.binomial import Binomial
from tinylm.distributions.dirichlet import Dirichlet
from tinylm.distributions.exponential import Exponential
from tinylm.distributions.gamma import Gamma
from tinylm.distributions.geometric import Geometric
from tinylm.distributions.kl import KLNotImplementedError, kl_divergence, register_kl
from tinylm.distributions.laplace import Laplace
from tinylm.distributions.lognormal import LogNormal
from tinylm.distributions.multivariate_normal import MultivariateNormal
from tinylm.distributions.poisson import Poisson
from tinylm.linalg_decompositions import solve_triangular
from tinylm.tensor import Tensor

__all__: list[str] = []


@register_kl(Exponential, Exponential)
def kl_exponential_exponential(p: Exponential, q: Exponential) -> Tensor:
    ratio = q.rate / p.rate
    return ratio - 1 - ratio.log()


@register_kl(Laplace, Laplace)
def kl_laplace_laplace(p: Laplace, q: Laplace) -> Tensor:
    ratio = p.scale / q.scale
    gap = (p.loc - q.loc).abs()
    return -ratio.log() + gap / q.scale + ratio * (-gap / p.scale).exp() - 1


@register_kl(Gamma, Gamma)
def kl_gamma_gamma(p: Gamma, q: Gamma) -> Tensor:
    ap, bp, aq, bq = p.concentration, p.rate, q.concentration, q.rate
    return (
        aq * (bp / bq).log()
        + aq.lgamma()
        - ap.lgamma()
        + (ap - aq) * ap.digamma()
        + (bq - bp) * (ap / bp)
    )


@register_kl(Beta, Beta)
def kl_beta_beta(p: Beta, q: Beta) -> Tensor:
    ap, bp, aq, bq = p.concentration1, p.concentration0, q.concentration1, q.concentration0
    total_p = ap + bp
    return (
        log_beta(aq, bq)
        - log_beta(ap, bp)
        + (ap - aq) * ap.digamma()
        + (bp - bq) * bp.digamma()
        + (aq + bq - total_p) * total_p.digamma()
    )


@register_kl(Dirichlet, Dirichlet)
def kl_dirichlet_dirichlet(p: Dirichlet, q: Dirichlet) -> Tensor:
    cp, cq = p.concentration, q.concentration
    sum_p, sum_q = cp.sum(-1), cq.sum(-1)
    spread = (cp - cq) * (cp.digamma() - sum_p.digamma().unsqueeze(-1))
    return sum_p.lgamma() - sum_q.lgamma() - (cp.lgamma() - cq.lgamma()).sum(-1) + spread.sum(-1)


@register_kl(Poisson, Poisson)
def kl_poisson_poisson(p: Poisson, q: Poisson) -> Tensor:
    return p.rate * (p.rate.log() - q.rate.log()) - (p.rate - q.rate)


@register_kl(LogNormal, LogNormal)
def kl_lognormal_lognormal(p: LogNormal, q: LogNormal) -> Tensor:
    return kl_divergence(p.base_dist, q.base_dist)


@register_kl(Geometric, Geometric)
def kl_geometric_geometric(p: Geometric, q: Geometric) -> Tensor:
    return -p.entropy() - (-q.probs).log1p() / p.probs - q.logits


@register_kl(Binomial, Binomial)
def kl_binomial_binomial(p: Binomial, q: Binomial) -> Tensor:
    """+inf where p has more trials than q; fewer anywhere is refused, as PyTorch."""
    if bool((p.total_count < q.total_count).any().item()):
        raise KLNotImplementedError(
            "kl_divergence(Binomial, Binomial): not supported where p.total_count < "
            "q.total_count (PyTorch refuses it too)"
        )
    kl = p.total_count * (p.probs * (p.logits - q.logits) + (-p.probs).log1p() - (-q.probs).log1p())
    return where(p.total_count > q.total_count, math.inf, kl)


@register_kl(MultivariateNormal, MultivariateNormal)
def kl_mvn_mvn(p: MultivariateNormal, q: MultivariateNormal) -> Tensor:
    if p.event_shape != q.event_shape:
        raise TinyLMError(
            "kl_divergence(MultivariateNormal, MultivariateNormal): the two distributions "
            f"must have the same event shape, got {p.event_shape} and {q.event_shape}"
        )
    d = p.event_shape[0]
    shape = tuple(np.broadcast_shapes(p.batch_shape, q.batch_shape))
    lp = p.scale_tril.expand(shape + (d, d))
    lq = q.scale_tril.expand(shape + (d, d))
    log_det_gap = lq.diagonal(dim1=-2, dim2=-1).log().sum(-1) - lp.diagonal(
        dim1=-2, dim2=-1
    ).log().sum(-1)
    trace = solve_triangular(lq, lp, upper=False).pow(2).sum((-2, -1))
    gap = (q.loc - p.loc).expand(shape + (d,)).unsqueeze(-1)
    maha = solve_triangular(lq, gap, upper=False).pow(2).sum((-2, -1))
    return log_det_gap + 0.5 * (trace + maha - d)
