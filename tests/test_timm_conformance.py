"""What timm's own suite (tests/test_timm_suite.py) does not check: a model created on the meta
device is ready to train after ``to_empty`` + ``init_weights``, and the traced (torch.fx) and
scripted (TorchScript) models keep the input check."""

import pytest
import timm
import torch
from timm.layers import set_scriptable
from timm.models import get_notrace_functions, get_notrace_modules
from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names

import vmamba_zoo.models  # noqa: F401
from vmamba_zoo import published

MODELS = published.representative_models()


def _tensors(model):
    return dict(model.named_parameters()) | dict(model.named_buffers())


@pytest.mark.parametrize("name", MODELS)
def test_meta_to_empty_init_weights(name):
    model = timm.create_model(name, device="meta")
    assert all(t.is_meta for t in [*model.parameters(), *model.buffers()])
    model.to_empty(device="cpu")
    model.init_weights()
    reinit = _tensors(model)
    first, second = (_tensors(timm.create_model(name)) for _ in range(2))  # two draws of the constructor's init
    for key, value in first.items():
        if torch.equal(value, second[key]):  # a deterministic init (norms, A_logs, Ds, seeded skips)
            assert torch.equal(reinit[key], value), key
        else:  # a random one: the same distribution (its spread, where there are enough samples)
            assert torch.isfinite(reinit[key]).all(), key
            if value.numel() >= 256:
                ratio = reinit[key].std() / value.std()
                assert 0.5 < ratio < 2, (key, ratio)


def test_factory_dtype():
    model = timm.create_model("vmamba_tiny", dtype=torch.float64)
    assert {p.dtype for p in model.parameters()} == {torch.float64}
    with pytest.raises(TypeError):
        timm.create_model("vmamba_tiny", device="meta", not_a_model_arg=1)


def _traced(model):
    kwargs = dict(leaf_modules=get_notrace_modules(), autowrap_functions=get_notrace_functions())
    output = get_graph_node_names(model, tracer_kwargs=kwargs)[1][-1]  # the model's output
    return create_feature_extractor(model, return_nodes={output: "logits"}, tracer_kwargs=kwargs)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["vmamba_tiny_v0", "groupmamba_tiny", "spatialmamba_tiny"])
def test_traced_and_scripted_models_equal_eager_and_check_input(name):
    torch.manual_seed(0)
    with set_scriptable(True):
        model = timm.create_model(name).eval()
    x = torch.randn(1, 3, 64, 64)
    traced, scripted = _traced(model), torch.jit.script(model)
    with torch.inference_mode():
        expected = model(x)
        torch.testing.assert_close(traced(x)["logits"], expected, rtol=0, atol=0)  # the same ops
        torch.testing.assert_close(scripted(x), expected)  # F.linear instead of oneDNN's linear
        for call in (traced, scripted):
            with pytest.raises((ValueError, torch.jit.Error), match="divisible by 32"):
                call(torch.randn(1, 3, 64, 48))
            with pytest.raises((ValueError, torch.jit.Error), match="in_chans=3"):
                call(torch.randn(1, 4, 64, 64))
