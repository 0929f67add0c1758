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
"""

from __future__ import annotations

from tinylm.distributions.beta import Beta, log_beta
from tinylm.distributions.dirichlet import Dirichlet
from tinylm.distributions.exponential import Exponential
from tinylm.distributions.gamma import Gamma
from tinylm.distributions.kl import kl_divergence, register_kl
from tinylm.distributions.laplace import Laplace
from tinylm.distributions.lognormal import LogNormal
from tinylm.distributions.poisson import Poisson
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
