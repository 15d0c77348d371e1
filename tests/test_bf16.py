"""bfloat16 autocast on the CPU: every family's smallest model gives the float32 logits.

Under autocast the linear layers and convolutions run in bfloat16 while the scans compute in
float32 from bfloat16 inputs and round their outputs once (checked op by op in tests/test_ops.py
and tests/test_ops_cross_selective_scan.py). The models are randomly initialised (no weights are
downloaded) and run at their 224x224 input: at much smaller inputs GroupMamba's last stage has
too few tokens to average the rounding out, and the bound would test the input size instead.
"""

from __future__ import annotations

import pytest
import timm
import torch
import torch.nn.functional as F

import vmamba_zoo  # noqa: F401  (registers the models)
from vmamba_zoo import published

COSINE = 0.999


MODELS = published.representative_models()


def test_every_family_is_covered():
    assert {published.MODELS[name].family for name in MODELS} == set(published.FAMILIES)


@pytest.mark.parametrize("name", MODELS)
def test_bf16_autocast_logits_match_float32(name):
    torch.manual_seed(0)
    model = timm.create_model(name).eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.inference_mode():
        reference = model(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits = model(x)
    assert logits.shape == reference.shape
    cosine = F.cosine_similarity(logits.float().flatten(), reference.flatten(), dim=0).item()
    assert cosine >= COSINE, f"{name}: cosine {cosine:.6f} between bf16 and float32 logits"
