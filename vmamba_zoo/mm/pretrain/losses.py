"""The two training losses of the papers that mmpretrain lacks: DeiT's distillation from a frozen
teacher (GroupMamba's recipe) and the soft cross-entropy of MESA self-distillation from the EMA
model (Spatial-Mamba's recipe)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def soft_cross_entropy(logits: Tensor, target_probs: Tensor) -> Tensor:
    """Cross-entropy against a probability distribution, averaged over the batch."""
    return torch.sum(-target_probs * F.log_softmax(logits, dim=-1), dim=-1).mean()


def distillation_loss(dist_logits: Tensor, teacher_logits: Tensor, kind: str, tau: float = 1.0) -> Tensor:
    """DeiT's distillation loss (Touvron et al. 2021, arXiv 2012.12877, section 4): ``"hard"`` is
    cross-entropy with the teacher's argmax, ``"soft"`` the KL divergence at temperature ``tau``,
    scaled by ``tau²``."""
    if kind == "hard":
        return F.cross_entropy(dist_logits, teacher_logits.argmax(dim=1))
    if kind != "soft":
        raise ValueError(f"distillation kind must be 'hard' or 'soft', got {kind!r}")
    kl = F.kl_div(
        F.log_softmax(dist_logits / tau, dim=1),
        F.log_softmax(teacher_logits / tau, dim=1),
        reduction="sum",
        log_target=True,
    )
    return kl * tau * tau / dist_logits.numel()
