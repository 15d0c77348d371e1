"""Spatial-Mamba's state fusion against the authors' module (needs $VMAMBA_ZOO_UPSTREAM; see
tests/upstream.py). The whole models are compared through the golden fixtures
(tests/test_fidelity.py)."""

from __future__ import annotations

import torch

from vmamba_zoo.models.spatialmamba import StateFusion

FAMILY = "spatialmamba"


def test_state_fusion_train_eval_and_official(official):
    """Both fusion paths agree with each other and with the official module's two paths."""
    torch.manual_seed(0)
    dim = 6
    ours, theirs = StateFusion(dim), official.StateFusion(dim)
    with torch.no_grad():  # no trivial values: random kernels, alphas away from 1
        for name, p in ours.named_parameters():
            p.copy_(torch.randn_like(p) / 9 if name.startswith("kernel") else 1 + 0.1 * torch.randn_like(p))
    theirs.load_state_dict(ours.state_dict())
    h = torch.randn(2, dim, 12, 9)
    with torch.no_grad():
        train_out = ours.train()(h)
        eval_out = ours.eval()(h)
        torch.testing.assert_close(eval_out, train_out, rtol=1e-5, atol=1e-5)
        # ours scales the kernels by alpha before convolving (one op for both modes): float rounding
        torch.testing.assert_close(train_out, theirs.train()(h), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(eval_out, theirs.eval()(h), rtol=1e-5, atol=1e-5)
