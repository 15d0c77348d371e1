"""Our models give the authors' outputs, on every machine: the golden fixtures.

Each released variant has a fixture under tests/data/fidelity/ recorded once from the original
repository (``tools/make_fidelity_fixtures.py``; format in tests/fidelity.py). Here the fixture's
deterministic weights are rebuilt, saved in the authors' release file format, loaded through the
public checkpoint path (``timm.create_model(..., pretrained=True, pretrained_cfg_overlay=
dict(file=PATH))``, and for the feature maps the MMEngine backbone's ``init_cfg``), and our
outputs compared with the recorded ones. No mirror, no network.

With ``$VMAMBA_ZOO_UPSTREAM`` set, ``test_fixture_is_what_the_authors_code_gives`` also re-runs the
authors' code and checks that the fixture still says what it computes.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import timm
import torch

import vmamba_zoo  # noqa: F401  (registers the models)
from fidelity import ORIGINAL_FORMATS, Fixture, fixture_variants, max_abs_diff, write_original_checkpoint
from vmamba_zoo import published
from vmamba_zoo.checkpoint import CheckpointMismatchError

VARIANTS = fixture_variants()

# family -> (rtol, atol, scaled): |ours - theirs| <= atol * max(1, max|theirs|) when scaled, else
# <= atol + rtol * |theirs| elementwise (the bounds the comparisons with the live code always used)
TOLERANCE = {
    "vmamba": (0.0, 1e-4, True),
    "efficientvmamba": (1e-4, 1e-4, False),
    "groupmamba": (0.0, 5e-5, True),
    "spatialmamba": (0.0, 5e-5, True),
    "resvmamba": (1e-4, 1e-4, False),
}


def assert_matches(family: str, actual: list[torch.Tensor], expected: list[np.ndarray], label: str) -> None:
    rtol, atol, scaled = TOLERANCE[family]
    diff, scale = max_abs_diff(actual, expected)
    print(f"{label}: max |ours - authors'| = {diff:.3g} (max |authors'| {scale:.3g})")
    if scaled:
        assert diff <= atol * max(1.0, scale), f"{label}: differs by {diff:.3g}"
    else:
        for a, e in zip(actual, expected):
            torch.testing.assert_close(a.float(), torch.from_numpy(e), rtol=rtol, atol=atol, msg=label)


def _mm_backbone(fixture: Fixture, path) -> torch.nn.Module:
    import vmamba_zoo.mm

    backbone_type = getattr(vmamba_zoo.mm, published.FAMILIES[fixture.family].mm_backbone)
    backbone = backbone_type(arch=fixture.variant, init_cfg=dict(type="Pretrained", checkpoint=str(path)))
    backbone.init_weights()
    return backbone.eval()


def _projection_pairs(fixture: Fixture) -> list[tuple[torch.Tensor, torch.Tensor]]:
    pinned = list(fixture.pinned_tensors().values())
    return list(zip(pinned[0::2], pinned[1::2]))


@pytest.mark.parametrize("variant", VARIANTS)
def test_outputs_match_the_authors_code(variant, tmp_path):
    fixture = Fixture.load(variant)
    path = write_original_checkpoint(tmp_path / "release.pth", fixture.checkpoint_state_dict(), fixture.checkpoint_format)
    model = timm.create_model(
        variant, pretrained=True, pretrained_cfg_overlay=dict(file=str(path)), drop_path_rate=0.0
    ).eval()
    assert sum(p.numel() for p in model.parameters()) == fixture.official_params
    if fixture.pinned:  # Res-VMamba: the per-call random projections, pinned to the recorded ones
        model.set_residual_projections(_projection_pairs(fixture))

    for case in sorted(fixture.cases, key=lambda c: c.kind == "train_logits"):  # training mode last
        x = case.input.build()
        assert case.input.checksum() == case.input.sha256, f"{variant}/{case.name}: the input generator changed"
        with torch.no_grad():
            if case.kind == "backbone":
                backbone = _mm_backbone(fixture, path)
                if fixture.pinned:
                    backbone.model.set_residual_projections(_projection_pairs(fixture))
                out = list(backbone(x))
            elif case.kind == "logits":
                out = [model(x)]
            else:
                if case.distilled_training:
                    model.set_distilled_training(True)
                out = model.train()(x)
                out = list(out) if isinstance(out, tuple) else [out]
        assert_matches(fixture.family, out, fixture.case_outputs(case), f"{variant} {case.name} {tuple(x.shape)}")


@pytest.mark.parametrize("variant", VARIANTS)
def test_published_table_is_the_authors_count(variant):
    """The params / FLOPs of ``vmamba_zoo.published`` are what the authors' code counts."""
    fixture = Fixture.load(variant)
    reference = published.MODELS[variant]
    assert fixture.official_params == reference.reference_params
    assert round(fixture.official_flops / 1e9, 6) == reference.reference_gflops


def test_every_released_variant_has_a_fixture():
    assert VARIANTS == sorted(published.MODELS)


# Original keys the authors' checkpoints hold, corrupted, and the name our error must give each.
MISMATCHES = {
    "vmamba_tiny_s1l8": dict(
        missing=("layers.2.blocks.3.op.Ds", "stages.2.blocks.3.op.Ds"),
        unexpected=("layers.1.blocks.0.op.x_proj_bias", (4, 14), "stages.1.blocks.0.op.x_proj_bias"),
        misshaped=("layers.0.blocks.1.op.A_logs", (384, 16), "stages.0.blocks.1.op.A_logs"),
    ),
    "efficientvmamba_tiny": dict(
        missing=("layers.2.3.conv_dw.1.running_var", "stages.2.blocks.2.bn2.running_var"),
        unexpected=("layers.0.blocks.0.op.extra", (1,), "stages.0.blocks.0.op.extra"),
        misshaped=("layers.1.blocks.1.op.A_logs", (10, 16), "stages.1.blocks.1.op.A_logs"),
    ),
    "groupmamba_tiny": dict(
        missing=("block3.2.attn.mamba_g3.A_logs", "stages.2.blocks.2.attn.mamba_g3.A_logs"),
        unexpected=("block1.0.attn.extra_weight", (3,), "stages.0.blocks.0.attn.extra_weight"),
        misshaped=("block2.1.attn.mamba_g2.x_proj_weight", (1, 5, 32), "stages.1.blocks.1.attn.mamba_g2.x_proj_weight"),
    ),
    "spatialmamba_tiny": dict(
        missing=("layers.2.blocks.3.self_attention.state_fusion.alpha", "stages.2.blocks.3.self_attention.state_fusion.alpha"),
        unexpected=("layers.0.blocks.0.self_attention.extra", (2,), "stages.0.blocks.0.self_attention.extra"),
        misshaped=("layers.1.downsample.conv.2.conv.weight", (256, 512, 3, 3), "stages.2.downsample.conv.2.conv.weight"),
    ),
    "resvmamba_small": dict(
        missing=("layers.1.blocks.0.op.Ds", "stages.1.blocks.0.op.Ds"),
        unexpected=("layers.0.blocks.0.op.extra", (2,), "stages.0.blocks.0.op.extra"),
        misshaped=("classifier.head.weight", (500, 768), "head.fc.weight"),
    ),
}


def _shape_only_state_dict(fixture: Fixture) -> dict[str, torch.Tensor]:
    """The checkpoint's keys and shapes, all zeros, one-element storages (a tiny file): a
    mismatch is found before any value is read."""
    return {k: torch.zeros((), dtype=getattr(torch, r.dtype)).expand(r.shape) for k, r in fixture.tensors.items()}


@pytest.mark.parametrize("variant", list(MISMATCHES))
def test_original_checkpoint_that_does_not_fit_names_every_key(variant, tmp_path):
    fixture = Fixture.load(variant)
    state_dict = _shape_only_state_dict(fixture)
    cases = MISMATCHES[variant]
    missing, ours_missing = cases["missing"]
    unexpected, shape, ours_unexpected = cases["unexpected"]
    misshaped, bad_shape, ours_misshaped = cases["misshaped"]
    assert missing in state_dict and unexpected not in state_dict and misshaped in state_dict
    del state_dict[missing]
    state_dict[unexpected] = torch.zeros(shape)
    state_dict[misshaped] = torch.zeros(bad_shape)
    path = write_original_checkpoint(tmp_path / "bad.pth", state_dict, fixture.checkpoint_format)
    with pytest.raises(CheckpointMismatchError) as info:
        timm.create_model(variant, pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))
    message = str(info.value)
    for section, key in (("missing", ours_missing), ("unexpected", ours_unexpected), ("mis-shaped", ours_misshaped)):
        lines = [line for line in message.splitlines() if line.strip().startswith(section)]
        assert lines and key in lines[0], f"{section} {key!r} not named in:\n{message}"
    assert str(tuple(bad_shape)) in message


@pytest.mark.parametrize("checkpoint_format", sorted(ORIGINAL_FORMATS))
def test_release_formats_are_what_the_authors_save(checkpoint_format, tmp_path):
    """Formats with pickled config objects are refused by torch's weights-only loader (so the
    loader under test must handle them); all hold the weights where the authors put them."""
    weights = {"w": torch.ones(2)}
    path = write_original_checkpoint(tmp_path / "ckpt.pth", weights, checkpoint_format)
    if checkpoint_format in ("vmamba", "spatialmamba", "resvmamba"):
        with pytest.raises(pickle.UnpicklingError):
            torch.load(path, weights_only=True)
    checkpoint = torch.load(path, weights_only=False)
    found = {"efficientvmamba": lambda c: c["state_dict"]["module.module.w"], "groupmamba": lambda c: c["w"]}
    torch.testing.assert_close(found.get(checkpoint_format, lambda c: c["model"]["w"])(checkpoint), weights["w"])
    if "model_ema" in checkpoint:
        assert not checkpoint["model_ema"]["w"].any()  # a decoy that must not be the one loaded


def test_vanilla_checkpoint_is_not_a_v2_model(tmp_path):
    vanilla = _shape_only_state_dict(Fixture.load("vmamba_tiny_v0"))
    path = write_original_checkpoint(tmp_path / "v0.pth", vanilla, "vmamba")
    with pytest.raises(CheckpointMismatchError, match="missing keys"):
        timm.create_model("vmamba_tiny_s1l8", pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS)
def test_fixture_is_what_the_authors_code_gives(variant, upstream_code):
    """With the mirrors ($VMAMBA_ZOO_UPSTREAM): the authors' code, given the fixture's weights and
    inputs, still gives the recorded outputs, parameter and FLOP counts."""
    import upstream

    stored = Fixture.load(variant)
    fresh = upstream.record(upstream_code(stored.family), variant, like=stored)
    assert (fresh.weights_sha256, fresh.official_params, fresh.official_flops) == (
        stored.weights_sha256, stored.official_params, stored.official_flops
    )
    assert [c.to_json() for c in fresh.cases] == [c.to_json() for c in stored.cases]
    for case in stored.cases:
        fresh_outputs = [torch.from_numpy(a) for a in fresh.case_outputs(case)]
        assert_matches(stored.family, fresh_outputs, stored.case_outputs(case), f"{variant} {case.name} (authors' code)")
