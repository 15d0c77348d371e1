"""The authors' code, run on the CPU: the one loader behind ``tools/make_fidelity_fixtures.py`` and
the tests that compare with the original repositories.

The upstream repositories are read from local bare git mirrors under ``$VMAMBA_ZOO_UPSTREAM``
(``<owner>+<repo>/repo``, e.g. ``MzeroMiko+VMamba/repo``); nothing of theirs is stored here. Their
model files are extracted at run time into a temporary package; their CUDA-only modules are replaced
by the stand-ins below (the selective scan by :func:`reference_scan`, a float32 sequential S6
recurrence; Triton cross-scan and CUDA depthwise conv by plain torch); and everything put into
``sys.modules`` is removed again afterwards.

Per family, :data:`FAMILIES` says how the released classifiers are built (the builder or the
constructor arguments of the released configs), how the authors count FLOPs, and how their
detection/segmentation backbone taps the feature maps. :func:`record` turns that into a
:class:`fidelity.Fixture`.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import io
import logging
import math
import os
import re
import subprocess
import sys
import tempfile
import types
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fidelity import Case, Fixture, InputSpec, TensorRecipe, build_tensors

UPSTREAM_ENV = "VMAMBA_ZOO_UPSTREAM"


def git_dir(repo: str) -> Path | None:
    """The bare mirror of ``owner/name`` under ``$VMAMBA_ZOO_UPSTREAM``, or None."""
    root = os.environ.get(UPSTREAM_ENV)
    if not root:
        return None
    path = Path(root) / repo.replace("/", "+") / "repo"
    return path if (path / "HEAD").is_file() else None


def missing_reason(family: str) -> str | None:
    """Why the authors' code of ``family`` cannot be loaded here (None: it can)."""
    repo = FAMILIES[family].repo
    if not os.environ.get(UPSTREAM_ENV):
        return f"{UPSTREAM_ENV} is not set (a directory of bare git mirrors, <owner>+<repo>/repo)"
    if git_dir(repo) is None:
        return f"no mirror of {repo} at ${UPSTREAM_ENV}/{repo.replace('/', '+')}/repo"
    return None


# ---------------------------------------------------------------------------------------- stand-ins
_SHAPE_ONLY = False


@contextlib.contextmanager
def shape_only_scans() -> Iterator[None]:
    """Make the scan stand-ins return zeros of the right shape: enough for tracing FLOPs (the
    authors' counters read only shapes) and much faster than the sequential recurrence."""
    global _SHAPE_ONLY
    previous, _SHAPE_ONLY = _SHAPE_ONLY, True
    try:
        yield
    finally:
        _SHAPE_ONLY = previous


def reference_scan(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor | None = None,
    D: Tensor | None = None,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = False,
) -> Tensor:
    """The selective scan (S6), one position at a time in float32.

    u, delta (batch, channels, L); A (channels, N); B, C (batch, groups, N, L), each group shared by
    channels / groups consecutive channels. Returns y (batch, channels, L) = C·h + D·u, or with
    ``C=None`` every hidden state h (batch, channels, N, L)."""
    batch, channels, length = u.shape
    state = A.shape[1]
    if _SHAPE_ONLY:
        return u.new_zeros(batch, channels, length) if C is not None else u.new_zeros(batch, channels, state, length)
    u, delta, A, B = u.float(), delta.float(), A.float(), B.float()
    if delta_bias is not None:
        delta = delta + delta_bias.float()[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    if B.dim() == 3:
        B = B[:, None]
    B = B.repeat_interleave(channels // B.shape[1], dim=1)
    decay = torch.exp(delta[:, :, None, :] * A[None, :, :, None])
    drive = delta[:, :, None, :] * B * u[:, :, None, :]
    h = u.new_zeros(batch, channels, state)
    states = []
    for t in range(length):
        h = decay[..., t] * h + drive[..., t]
        states.append(h)
    hs = torch.stack(states, dim=-1)
    if C is None:
        return hs
    C = C.float()
    C = (C[:, None] if C.dim() == 3 else C).repeat_interleave(channels // (C.shape[1] if C.dim() == 4 else 1), dim=1)
    y = (hs * C).sum(2)
    return y + D.float()[:, None] * u if D is not None else y


def _module(name: str, **attrs) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    return module


def _scan_kernel(name: str, signature: str) -> types.ModuleType:
    """A stand-in for a compiled selective-scan extension whose ``fwd`` returns (y, None)."""
    if signature == "core":  # fwd(u, delta, A, B, C, D, delta_bias, softplus, nrows)
        def fwd(u, delta, A, B, C, D, delta_bias, softplus, *_):
            return reference_scan(u, delta, A, B, C, D, delta_bias, softplus), None
    elif signature == "mamba":  # fwd(u, delta, A, B, C, D, z, delta_bias, softplus)
        def fwd(u, delta, A, B, C, D, z, delta_bias, softplus):
            assert z is None
            return reference_scan(u, delta, A, B, C, D, delta_bias, softplus), None
    else:  # "states": fwd(u, delta, A, B, D, delta_bias, softplus, nrows, out_float) -> every state
        def fwd(u, delta, A, B, D, delta_bias, softplus, *_):
            states = reference_scan(u, delta, A, B, None, None, delta_bias, softplus)
            return states, states.new_zeros(u.shape[0], u.shape[1], 1, 2 * A.shape[1])
    return _module(name, fwd=fwd)


def _cross_scan(x, in_channel_first=True, out_channel_first=True, one_by_one=False, scans=0, force_torch=False):
    """(B, C, H, W) -> (B, 4, C, L): row-major, column-major, then both reversed."""
    assert in_channel_first and out_channel_first and not one_by_one and scans == 0
    rows, cols = x.flatten(2), x.transpose(2, 3).flatten(2)
    return torch.stack([rows, cols, rows.flip(-1), cols.flip(-1)], dim=1)


def _cross_merge(ys, in_channel_first=True, out_channel_first=True, one_by_one=False, scans=0, force_torch=False):
    """(B, 4, C, H, W) -> (B, C, L): each route mapped back to row-major order, summed."""
    assert in_channel_first and out_channel_first and not one_by_one and scans == 0
    batch, _, channels, H, W = ys.shape
    ys = ys.flatten(3)
    rows = ys[:, 0] + ys[:, 2].flip(-1)
    cols = (ys[:, 1] + ys[:, 3].flip(-1)).view(batch, channels, W, H).transpose(2, 3).flatten(2)
    return rows + cols


class _ReplicatePaddedDepthwise:
    """Spatial-Mamba's ``Dwconv.dwconv_layer.DepthwiseFunction`` (its inference kernel): a
    depthwise cross-correlation over a replicate-padded map."""

    @staticmethod
    def apply(x, weight, bias, pad_h, pad_w, _flag):
        return F.conv2d(F.pad(x, (pad_w, pad_w, pad_h, pad_h), mode="replicate"), weight, bias, groups=x.shape[1])


def _vmamba_stubs() -> dict[str, types.ModuleType]:
    return {
        "csm_triton": _module("csm_triton", cross_scan_fn=_cross_scan, cross_merge_fn=_cross_merge),
        "mamba2": _module("mamba2"),
        "mamba2.ssd_minimal": _module("mamba2.ssd_minimal", selective_scan_chunk_fn=None),  # no mamba2 release
        "selective_scan_cuda_oflex": _scan_kernel("selective_scan_cuda_oflex", "core"),
        "selective_scan_cuda": _scan_kernel("selective_scan_cuda", "mamba"),  # the v0 models' backend
    }


def _efficientvmamba_stubs() -> dict[str, types.ModuleType]:
    kernel = _scan_kernel("selective_scan_cuda_core", "core")
    return {"selective_scan_vmamba_pt202": _module("selective_scan_vmamba_pt202", selective_scan_cuda_core=kernel)}


def _core_stubs() -> dict[str, types.ModuleType]:
    return {"selective_scan_cuda_core": _scan_kernel("selective_scan_cuda_core", "core")}


def _spatialmamba_stubs() -> dict[str, types.ModuleType]:
    dwconv_layer = _module("Dwconv.dwconv_layer", DepthwiseFunction=_ReplicatePaddedDepthwise)
    return {
        "selective_scan_cuda_oflex_rh": _scan_kernel("selective_scan_cuda_oflex_rh", "states"),
        "Dwconv": _module("Dwconv", dwconv_layer=dwconv_layer),
        "Dwconv.dwconv_layer": dwconv_layer,
    }


# ---------------------------------------------------------------------------------------- loading
@contextlib.contextmanager
def load(family: str) -> Iterator[Upstream]:
    """The authors' model module of ``family``, importable and runnable on the CPU while the
    context lasts (see the module docstring). Raises RuntimeError when the mirror is missing."""
    spec = FAMILIES[family]
    reason = missing_reason(family)
    if reason:
        raise RuntimeError(reason)
    mirror = git_dir(spec.repo)
    commit = _git(mirror, "rev-parse", "HEAD").decode().strip()
    package = f"_upstream_{family}"
    with tempfile.TemporaryDirectory(prefix="vmamba_zoo_upstream_") as tmp:
        root = Path(tmp) / package
        for source, target in spec.files.items():
            path = root / target
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(_git(mirror, "show", f"HEAD:{source}"))
        for directory in [root, *{p.parent for p in root.rglob("*.py")}]:
            (directory / "__init__.py").touch()

        stubs = spec.stubs()
        replaced = {name: sys.modules.get(name) for name in stubs}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the module the authors import from is deprecated
            registry = importlib.import_module("timm.models.registry")
        register_model = registry.register_model
        cudnn = (torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic)
        sys.modules.update(stubs)
        sys.path[:0] = [tmp, str(root)]  # the package, and the top-level names some files import
        registry.register_model = lambda fn: fn  # their builders must not replace ours in timm
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                module = importlib.import_module(f"{package}.{spec.module}")
            yield Upstream(spec, module, package, commit)
        finally:
            registry.register_model = register_model
            torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = cudnn
            for entry in (tmp, str(root)):
                sys.path.remove(entry)
            for name, loaded in list(sys.modules.items()):
                if name in stubs or name.split(".")[0] == package or str(getattr(loaded, "__file__", "")).startswith(tmp):
                    del sys.modules[name]
            sys.modules.update({name: previous for name, previous in replaced.items() if previous is not None})


def _git(mirror: Path, *args: str) -> bytes:
    return subprocess.run(["git", "--git-dir", str(mirror), *args], check=True, capture_output=True).stdout


@dataclass(frozen=True)
class Upstream:
    """A loaded upstream family: its model module and where it came from."""

    spec: UpstreamFamily
    module: types.ModuleType
    package: str
    commit: str

    def submodule(self, name: str) -> types.ModuleType:
        return importlib.import_module(f"{self.package}.{name}")

    def build(self, variant: str, **overrides) -> nn.Module:
        """The authors' classifier of ``variant``, initialised from ``torch.manual_seed(0)``."""
        torch.manual_seed(0)
        builder = self.spec.variants[variant]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return getattr(self.module, builder.name)(**{**builder.kwargs, **overrides})


@contextlib.contextmanager
def on_cpu() -> Iterator[None]:
    """The authors' code asks for CUDA in places (``flops()`` calls ``model.cuda()``; Res-VMamba
    puts its per-call convs on ``cuda:0`` when it exists): keep everything on the CPU, and keep
    their prints and fvcore's unsupported-operator log out of the output."""
    cuda, available = nn.Module.cuda, torch.cuda.is_available
    nn.Module.cuda = lambda self, device=None: self
    torch.cuda.is_available = lambda: False
    fvcore_log = logging.getLogger("fvcore")
    level = fvcore_log.level
    fvcore_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        nn.Module.cuda, torch.cuda.is_available = cuda, available
        fvcore_log.setLevel(level)


# ---------------------------------------------------------------------------------------- families
@dataclass(frozen=True)
class Builder:
    """``getattr(module, name)(**kwargs)``: how the authors build one released model."""

    name: str
    kwargs: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.name}({', '.join(f'{k}={v!r}' for k, v in self.kwargs.items())})"


@dataclass(frozen=True)
class UpstreamFamily:
    family: str
    repo: str
    files: Mapping[str, str]  # repository path -> path inside the extracted package
    module: str  # the module (in that package) holding the models
    stubs: Callable[[], dict[str, types.ModuleType]]
    variants: Mapping[str, Builder]
    checkpoint_format: str  # fidelity.ORIGINAL_FORMATS
    count_flops: Callable[[Upstream, nn.Module], int]
    flops_train_mode: bool
    backbone_maps: Callable[[Upstream, str, nn.Module, Tensor], list[Tensor]]
    main_variants: tuple[str, ...]  # also recorded at 224² and as backbone maps
    train_case: tuple[str, bool] | None = None  # (variant, distilled_training) recorded in train mode
    recipe_overrides: tuple[tuple[str, float, float], ...] = ()  # (key regex, loc, half width)
    pinned: Callable[[nn.Module], dict[str, Tensor]] | None = None  # per-call tensors to pin
    pin: Callable[[Upstream, Sequence[Tensor]], contextlib.AbstractContextManager] | None = None


def _fvcore_flops(model: nn.Module, supported_ops: dict, train_mode: bool = False) -> int:
    """The authors' count: fvcore ``flop_count`` of a copy of the model on one 224² image (MACs)."""
    from fvcore.nn import flop_count

    model = copy.deepcopy(model).train(train_mode)
    gflops, _ = flop_count(model=model, inputs=(torch.randn(1, 3, 224, 224),), supported_ops=supported_ops)
    return round(sum(gflops.values()) * 1e9)


_IGNORED = {"aten::silu": None, "aten::neg": None, "aten::exp": None, "aten::flip": None}


def _flops_method(upstream: Upstream, model: nn.Module) -> int:
    """VMamba, Spatial-Mamba and Res-VMamba count with their own ``model.flops()``."""
    return round(model.flops())


def _efficientvmamba_flops(upstream: Upstream, model: nn.Module) -> int:
    # the released EfficientVSSM has no flops(); this is VMamba's procedure with the file's own handle
    handle = upstream.module.selective_scan_flop_jit
    return _fvcore_flops(model, {**_IGNORED, "prim::PythonOp.SelectiveScan": handle})


def _groupmamba_flops(upstream: Upstream, model: nn.Module) -> int:
    # GroupMamba publishes no counter; VMamba's procedure with the handle its csms6s.py carries
    handle = upstream.submodule("csms6s").selective_scan_flop_jit
    return _fvcore_flops(model, {**_IGNORED, "prim::PythonOp.SelectiveScanCore": handle})


def _load_into_backbone(backbone: nn.Module, classifier: nn.Module, dropped: tuple[str, ...]) -> nn.Module:
    """Load the classifier's weights as the authors' ``load_pretrained`` does (strict=False), and
    make sure that only the new ``outnorm{i}`` are missing and only ``dropped`` are left over."""
    result = backbone.load_state_dict(classifier.state_dict(), strict=False)
    assert all(k.startswith("outnorm") for k in result.missing_keys), result.missing_keys
    assert all(k.startswith(dropped) for k in result.unexpected_keys), result.unexpected_keys
    return backbone.eval()


def _vmamba_maps(upstream: Upstream, variant: str, classifier: nn.Module, x: Tensor) -> list[Tensor]:
    """``Backbone_VSSM`` built by the variant's own builder (its VSSM swapped for the backbone)."""
    module = upstream.module
    vssm = module.VSSM
    module.VSSM = partial(module.Backbone_VSSM, out_indices=(0, 1, 2, 3))
    try:
        backbone = upstream.build(variant)
    finally:
        module.VSSM = vssm
    return _load_into_backbone(backbone, classifier, ("classifier.",))(x)


def _efficientvmamba_maps(upstream: Upstream, variant: str, classifier: nn.Module, x: Tensor) -> list[Tensor]:
    kwargs = {k: v for k, v in upstream.spec.variants[variant].kwargs.items() if k != "drop_path_rate"}
    torch.manual_seed(0)
    backbone = upstream.module.Backbone_EfficientVSSM(out_indices=(0, 1, 2, 3), **kwargs)
    return _load_into_backbone(backbone, classifier, ("classifier.",))(x)


def _spatialmamba_maps(upstream: Upstream, variant: str, classifier: nn.Module, x: Tensor) -> list[Tensor]:
    torch.manual_seed(0)
    backbone = upstream.module.Backbone_SpatialMamba(out_indices=(0, 1, 2, 3), **upstream.spec.variants[variant].kwargs)
    return _load_into_backbone(backbone, classifier, ("norm.", "head."))(x)


def _tap(classifier: nn.Module, x: Tensor, taps: Sequence[tuple[nn.Module, Callable]]) -> list[Tensor]:
    """Run the classifier on ``x`` and return ``tap(inputs, output)`` of each ``(module, tap)``,
    in the order the modules run."""
    maps: list[Tensor] = []
    handles = [
        module.register_forward_hook(lambda _, inputs, output, tap=tap: maps.append(tap(inputs, output)))
        for module, tap in taps
    ]
    try:
        classifier(x)
    finally:
        for handle in handles:
            handle.remove()
    return maps


def _groupmamba_maps(upstream: Upstream, variant: str, classifier: nn.Module, x: Tensor) -> list[Tensor]:
    """GroupMamba releases no backbone. Its natural taps, as ``forward_features`` computes them:
    stage i's tokens after ``norm{i}`` (stages 1-3), and ``norm4`` over all of stage 4's tokens
    (the classifier applies it to the class token only)."""

    def normed(norm: nn.Module) -> Callable:
        def tap(inputs, tokens):
            _, H, W = inputs
            return norm(tokens).reshape(tokens.shape[0], H, W, -1).permute(0, 3, 1, 2).contiguous()
        return tap

    stages = range(1, 5)
    return _tap(classifier, x, [(getattr(classifier, f"block{i}")[-1], normed(getattr(classifier, f"norm{i}"))) for i in stages])


def _resvmamba_maps(upstream: Upstream, variant: str, classifier: nn.Module, x: Tensor) -> list[Tensor]:
    """Res-VMamba releases no backbone (its ``Backbone_VSSM`` drops the residual path). The taps of
    VMamba's ``Backbone_VSSM`` on the classifier's own forward: each stage's blocks' output (before
    the downsample), through a new ``outnorm{i}`` = LayerNorm(C, eps 1e-5) at its initial values."""

    def outnorm(inputs, output):
        return F.layer_norm(output, output.shape[-1:], eps=1e-5).permute(0, 3, 1, 2).contiguous()

    return _tap(classifier, x, [(layer.blocks, outnorm) for layer in classifier.layers])


_RESVMAMBA_PROJECTIONS = ((96, 192), (192, 384), (384, 768))


def _resvmamba_pinned(classifier: nn.Module) -> dict[str, Tensor]:
    """The three 1x1 convs Res-VMamba's forward draws anew on every call, as ``nn.Conv2d``
    initialises them (their recipe comes from these), named as the project's reference outputs
    name them."""
    torch.manual_seed(0)
    pinned = {}
    for k, (dim, out_dim) in enumerate(_RESVMAMBA_PROJECTIONS):
        conv = nn.Conv2d(dim, out_dim, kernel_size=1)
        pinned[f"__forward_ephemeral__.conv1x1_{k}.weight"] = conv.weight.detach()
        pinned[f"__forward_ephemeral__.conv1x1_{k}.bias"] = conv.bias.detach()
    return pinned


@contextlib.contextmanager
def _resvmamba_pin(upstream: Upstream, tensors: Sequence[Tensor]) -> Iterator[None]:
    """While active, every ``nn.Conv2d`` the Res-VMamba module creates takes the next pinned
    (weight, bias) pair, in the order k = 0, 1, 2 of each forward."""
    pairs = list(zip(tensors[0::2], tensors[1::2]))
    calls = iter(range(10**9))

    class PinnedConvs:
        def __getattr__(self, name):
            return getattr(torch.nn, name)

        @staticmethod
        def Conv2d(*args, **kwargs):  # noqa: N802  (stands in for the class)
            conv = torch.nn.Conv2d(*args, **kwargs)
            weight, bias = pairs[next(calls) % len(pairs)]
            assert conv.weight.shape == weight.shape and conv.bias.shape == bias.shape
            with torch.no_grad():
                conv.weight.copy_(weight)
                conv.bias.copy_(bias)
            return conv

    module = upstream.module
    original, module.nn = module.nn, PinnedConvs()
    try:
        yield
    finally:
        module.nn = original


_VMAMBA_BUILDERS = {
    "vmamba_tiny_v0": "vanilla_vmamba_tiny",
    "vmamba_small_v0": "vanilla_vmamba_small",
    "vmamba_base_v0": "vanilla_vmamba_base",
    "vmamba_tiny_s2l5": "vmamba_tiny_s2l5",
    "vmamba_small_s2l15": "vmamba_small_s2l15",
    "vmamba_base_s2l15": "vmamba_base_s2l15",
    "vmamba_tiny_s1l8": "vmamba_tiny_s1l8",
    "vmamba_small_s1l20": "vmamba_small_s1l20",
    "vmamba_base_s1l20": "vmamba_base_s1l20",
}


def _efficientvssm(dims: int, depths: list[int]) -> Builder:
    # the released models (the Small yaml's width 96 does not match its checkpoint: 64 does)
    return Builder("EfficientVSSM", dict(dims=dims, depths=depths, mlp_ratio=0.0, downsample_version="v1", drop_path_rate=0.1))


def _spatialmamba(depths: list[int], dims: int) -> Builder:
    # the authors' yaml configs
    return Builder("SpatialMamba", dict(depths=depths, dims=dims, d_state=1, drop_path_rate=0.0))


FAMILIES: dict[str, UpstreamFamily] = {
    spec.family: spec
    for spec in (
        UpstreamFamily(
            family="vmamba",
            repo="MzeroMiko/VMamba",
            files={f"classification/models/{name}": name for name in ("vmamba.py", "csms6s.py")},
            module="vmamba",
            stubs=_vmamba_stubs,
            variants={ours: Builder(theirs) for ours, theirs in _VMAMBA_BUILDERS.items()},
            checkpoint_format="vmamba",
            count_flops=_flops_method,
            flops_train_mode=False,
            backbone_maps=_vmamba_maps,
            main_variants=("vmamba_tiny_v0", "vmamba_tiny_s1l8"),
        ),
        UpstreamFamily(
            family="efficientvmamba",
            repo="TerryPei/EfficientVMamba",
            files={
                "classification/models/vmamba_efficient.py": "vmamba_efficient.py",
                "classification/lib/models/operations.py": "lib/models/operations.py",
                "classification/lib/models/mdconv.py": "lib/models/mdconv.py",
            },
            module="vmamba_efficient",
            stubs=_efficientvmamba_stubs,
            variants={
                "efficientvmamba_tiny": _efficientvssm(48, [2, 2, 4, 2]),
                "efficientvmamba_small": _efficientvssm(64, [2, 2, 4, 2]),
                "efficientvmamba_base": _efficientvssm(96, [2, 2, 9, 2]),
            },
            checkpoint_format="efficientvmamba",
            count_flops=_efficientvmamba_flops,
            flops_train_mode=False,
            backbone_maps=_efficientvmamba_maps,
            main_variants=("efficientvmamba_tiny",),
        ),
        UpstreamFamily(
            family="groupmamba",
            repo="Amshaker/GroupMamba",
            files={f"classification/models/{name}": name for name in ("groupmamba.py", "ss2d.py", "csms6s.py")},
            module="groupmamba",
            stubs=_core_stubs,
            variants={
                name: Builder(name, dict(distillation=True, num_classes=1000))
                for name in ("groupmamba_tiny", "groupmamba_small", "groupmamba_base")
            },
            checkpoint_format="groupmamba",
            count_flops=_groupmamba_flops,
            flops_train_mode=False,
            backbone_maps=_groupmamba_maps,
            main_variants=("groupmamba_tiny",),
            train_case=("groupmamba_tiny", True),
        ),
        UpstreamFamily(
            family="spatialmamba",
            repo="EdwardChasel/Spatial-Mamba",
            files={f"classification/models/{name}": name for name in ("spatialmamba.py", "utils.py")},
            module="spatialmamba",
            stubs=_spatialmamba_stubs,
            variants={
                "spatialmamba_tiny": _spatialmamba([2, 4, 8, 4], 64),
                "spatialmamba_small": _spatialmamba([2, 4, 21, 5], 64),
                "spatialmamba_base": _spatialmamba([2, 4, 21, 5], 96),
            },
            checkpoint_format="spatialmamba",
            count_flops=_flops_method,
            flops_train_mode=True,  # its flops() leaves the model in training mode: the published count
            backbone_maps=_spatialmamba_maps,
            main_variants=("spatialmamba_tiny",),
            train_case=("spatialmamba_tiny", False),
            # the ones-init fusion kernels would sum 27 states: keep the fused states' scale
            recipe_overrides=((r"state_fusion\.kernel", 0.0, 0.19),),
        ),
        UpstreamFamily(
            family="resvmamba",
            repo="ChiShengChen/ResVMamba",
            files={"models/resvmamba.py": "resvmamba.py"},
            module="resvmamba",
            stubs=_core_stubs,
            variants={
                "resvmamba_small": Builder(
                    "VSSM",
                    dict(depths=[2, 2, 27, 2], dims=96, d_state=16, dt_rank="auto", ssm_ratio=2.0, mlp_ratio=0.0,
                         downsample_version="v1", drop_path_rate=0.3, num_classes=241),
                ),
            },
            checkpoint_format="resvmamba",
            count_flops=_flops_method,
            flops_train_mode=False,
            backbone_maps=_resvmamba_maps,
            main_variants=("resvmamba_small",),
            pinned=_resvmamba_pinned,
            pin=_resvmamba_pin,
        ),
    )
}


def family_of(variant: str) -> UpstreamFamily:
    return next(spec for spec in FAMILIES.values() if variant in spec.variants)


# ---------------------------------------------------------------------------------------- recording
def _significant(value: float, digits: int = 3) -> float:
    return float(f"{value:.{digits}g}")


def derive_recipe(key: str, tensor: Tensor, overrides: Sequence[tuple[str, float, float]] = ()) -> TensorRecipe:
    """A recipe for weights far from the initialisation yet of its scale: constant-initialised
    tensors (norms, biases, Ds, A_logs with N = 1) vary by ±0.2 around their value, tensors whose
    rows repeat one vector (A_logs = log(1..N)) by ±0.2 around it, running variances lie in
    [0.5, 1.5], running means in ±0.2, and randomly initialised ones are drawn uniformly with
    the initialisation's mean and standard deviation (at least 0.02)."""
    shape = tuple(tensor.shape)
    if not tensor.is_floating_point():
        values = tensor.flatten().unique()
        assert len(values) == 1, f"{key}: integer tensor with several values"
        return TensorRecipe(shape, int(values[0]), 0, str(tensor.dtype).removeprefix("torch."))
    for pattern, loc, half_width in overrides:
        if re.search(pattern, key):
            return TensorRecipe(shape, loc, half_width)
    if key.endswith("running_var"):
        return TensorRecipe(shape, 1.0, 0.5)
    if key.endswith("running_mean"):
        return TensorRecipe(shape, 0.0, 0.2)
    values = tensor.detach().double()
    if (values == values.flatten()[0]).all():
        return TensorRecipe(shape, _significant(values.flatten()[0].item(), 6), 0.2)
    rows = values.reshape(-1, shape[-1])
    if rows.shape[0] > 1 and (rows == rows[0]).all():
        return TensorRecipe(shape, tuple(_significant(v, 6) for v in rows[0].tolist()), 0.2)
    std = max(values.std().item(), 0.02)
    return TensorRecipe(shape, round(values.mean().item(), 3), _significant(math.sqrt(3) * std))


def cases_for(variant: str) -> list[Case]:
    """What is recorded for ``variant``: logits of a non-square batch of two for every variant;
    for the family's main sizes also one 224² image and the backbone maps; and one training-mode
    forward where the family's training forward differs (Spatial-Mamba's fusion and BatchNorm,
    GroupMamba's pair of distillation heads)."""
    spec = family_of(variant)
    cases = [Case("logits", "logits", InputSpec(2, (2, 3, 64, 96)))]
    if variant in spec.main_variants:
        cases.append(Case("logits_224", "logits", InputSpec(3, (1, 3, 224, 224))))
        cases.append(Case("backbone", "backbone", InputSpec(4, (1, 3, 32, 64))))
    if spec.train_case and spec.train_case[0] == variant:
        cases.append(Case("train_logits", "train_logits", InputSpec(5, (2, 3, 64, 96)), spec.train_case[1]))
    return cases


def run_case(upstream: Upstream, variant: str, model: nn.Module, case: Case, pinned: Sequence[Tensor]) -> list[Tensor]:
    """The authors' outputs for ``case`` (the model holds the fixture's weights)."""
    x = case.input.build()
    pin = upstream.spec.pin(upstream, pinned) if upstream.spec.pin else contextlib.nullcontext()
    with torch.no_grad(), on_cpu(), pin:
        if case.kind == "backbone":
            return list(upstream.spec.backbone_maps(upstream, variant, model.eval(), x))
        model.train(case.kind == "train_logits")
        try:
            out = model(x)
        finally:
            model.eval()
    return list(out) if isinstance(out, (tuple, list)) else [out]


def record(upstream: Upstream, variant: str, like: Fixture | None = None, seed: int = 1) -> Fixture:
    """Build the authors' ``variant``, give it deterministic weights, and record every case, the
    parameter count and the authors' FLOP count. The weights follow recipes derived from the
    authors' initialisation (:func:`derive_recipe`), or those of the fixture ``like``."""
    from fvcore.nn import parameter_count

    spec = upstream.spec
    model = upstream.build(variant).eval()
    if like is None:
        recipes = {key: derive_recipe(key, t, spec.recipe_overrides) for key, t in model.state_dict().items()}
        pinned_recipes = {k: derive_recipe(k, t) for k, t in (spec.pinned(model) if spec.pinned else {}).items()}
    else:
        recipes, pinned_recipes, seed = like.tensors, like.pinned, like.seed
    tensors, digest = build_tensors(seed, recipes)
    model.load_state_dict(tensors, strict=True)
    pinned = [recipe.build(seed, key) for key, recipe in pinned_recipes.items()]

    cases = cases_for(variant)
    outputs = {}
    for case in cases:
        results = run_case(upstream, variant, model, case, pinned)
        if len(results) == 1:
            outputs[case.name] = results[0].numpy()
        else:
            outputs.update({f"{case.name}.{i}": r.numpy() for i, r in enumerate(results)})
    # the mode the authors' counter finds the model in (Spatial-Mamba's flops() counts a model
    # fresh from its constructor: in training mode)
    model.train(spec.flops_train_mode)
    with shape_only_scans(), on_cpu():
        flops = spec.count_flops(upstream, model)
    model.eval()
    return Fixture(
        variant=variant,
        family=spec.family,
        upstream=dict(repo=spec.repo, commit=upstream.commit, file=next(iter(spec.files)), model=str(spec.variants[variant])),
        checkpoint_format=spec.checkpoint_format,
        seed=seed,
        tensors=recipes,
        weights_sha256=digest,
        pinned=pinned_recipes,
        official_params=parameter_count(model)[""],
        official_flops=flops,
        flops_train_mode=spec.flops_train_mode,
        cases=cases,
        outputs={k: np.asarray(v, dtype=np.float32) for k, v in outputs.items()},
    )
