"""Golden fixtures of the authors' code that every machine can check without their code.

A fixture (``tests/data/fidelity/<variant>.json`` plus ``.npz``) is recorded once from the original
repository by ``tools/make_fidelity_fixtures.py``. It holds no weights: it holds, for every tensor
of the ORIGINAL checkpoint (original key names, shapes and dtypes, in the original order), a recipe
``loc + half_width * U[-1, 1)`` with ``U`` drawn from numpy's PCG64 bit generator seeded with
``SeedSequence([seed, crc32(key)])``. Only integer bit streams and correctly rounded float64
arithmetic are involved (no library transcendental functions, no torch RNG), so any machine, numpy
and torch version rebuilds the same float32 weights bit for bit; a SHA-256 over them is recorded
to prove it. ``loc`` is a number or, for tensors whose rows repeat one vector (``A_logs`` =
log(1..N)), that vector along the last dimension. Inputs are made the same way (key ``"input"``).

The ``.npz`` holds what the authors' code computed from these weights and inputs (float32): the
logits of each case, and for one size per family the backbone feature maps.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

FIXTURE_DIR = Path(__file__).resolve().parent / "data" / "fidelity"


# ---------------------------------------------------------------------------------------- numbers
def uniform(seed: int, key: str, count: int) -> np.ndarray:
    """``count`` float64 values in [-1, 1): 53 bits of each PCG64 output, scaled exactly."""
    bit_generator = np.random.PCG64(np.random.SeedSequence([seed, zlib.crc32(key.encode())]))
    bits = bit_generator.random_raw(count) if count else np.zeros(0, dtype=np.uint64)
    return (bits >> np.uint64(11)).astype(np.float64) * 2.0**-52 - 1.0


@dataclass(frozen=True)
class TensorRecipe:
    """One checkpoint tensor: ``loc + half_width * U[-1, 1)`` (floats) or the constant ``loc``
    (integer tensors such as BatchNorm's ``num_batches_tracked``)."""

    shape: tuple[int, ...]
    loc: float | tuple[float, ...]
    half_width: float
    dtype: str = "float32"

    def to_json(self) -> list:
        row: list = [list(self.shape), list(self.loc) if isinstance(self.loc, tuple) else self.loc, self.half_width]
        return row + [self.dtype] if self.dtype != "float32" else row

    @classmethod
    def from_json(cls, row: list) -> TensorRecipe:
        shape, loc, half_width, *dtype = row
        return cls(tuple(shape), tuple(loc) if isinstance(loc, list) else loc, half_width, *dtype)

    def build(self, seed: int, key: str) -> torch.Tensor:
        dtype = getattr(torch, self.dtype)
        if not dtype.is_floating_point:
            return torch.full(self.shape, int(self.loc), dtype=dtype)
        count = int(np.prod(self.shape, dtype=np.int64))
        values = np.asarray(self.loc, dtype=np.float64) + self.half_width * uniform(seed, key, count).reshape(self.shape)
        return torch.from_numpy(values.astype(np.float32)).to(dtype)


def build_tensors(seed: int, recipes: Mapping[str, TensorRecipe]) -> tuple[dict[str, torch.Tensor], str]:
    """Every tensor of ``recipes`` (in order) and the SHA-256 over keys and raw bytes."""
    digest = hashlib.sha256()
    tensors = {}
    for key, recipe in recipes.items():
        tensor = recipe.build(seed, key)
        digest.update(key.encode())
        digest.update(tensor.contiguous().numpy().tobytes())
        tensors[key] = tensor
    return tensors, digest.hexdigest()


@dataclass(frozen=True)
class InputSpec:
    """A seeded input image batch: uniform in [-sqrt 3, sqrt 3) (unit variance)."""

    seed: int
    shape: tuple[int, ...]
    sha256: str = ""

    HALF_WIDTH = 3.0**0.5

    def build(self) -> torch.Tensor:
        recipe = TensorRecipe(self.shape, 0.0, self.HALF_WIDTH)
        return recipe.build(self.seed, "input")

    def checksum(self) -> str:
        return hashlib.sha256(self.build().numpy().tobytes()).hexdigest()

    def to_json(self) -> dict[str, Any]:
        return dict(seed=self.seed, shape=list(self.shape), sha256=self.sha256 or self.checksum())

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> InputSpec:
        return cls(data["seed"], tuple(data["shape"]), data["sha256"])


# ---------------------------------------------------------------------------------------- fixtures
@dataclass(frozen=True)
class Case:
    """One recorded forward of the authors' model.

    ``kind`` is ``"logits"`` (the classifier in eval mode), ``"train_logits"`` (the classifier in
    training mode; with ``distilled_training`` the pair of GroupMamba's two heads) or ``"backbone"``
    (the feature maps of the detection/segmentation backbone at strides 4/8/16/32)."""

    name: str
    kind: str
    input: InputSpec
    distilled_training: bool = False

    def to_json(self) -> dict[str, Any]:
        data = dict(name=self.name, kind=self.kind, input=self.input.to_json())
        return data | (dict(distilled_training=True) if self.distilled_training else {})

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Case:
        return cls(data["name"], data["kind"], InputSpec.from_json(data["input"]), data.get("distilled_training", False))


@dataclass
class Fixture:
    variant: str
    family: str
    upstream: dict[str, str]  # repo, commit, how the model was built
    checkpoint_format: str  # see ORIGINAL_FORMATS
    seed: int
    tensors: dict[str, TensorRecipe]  # the checkpoint, in the original key order
    weights_sha256: str
    pinned: dict[str, TensorRecipe]  # tensors the original draws per call (Res-VMamba), pinned
    official_params: int
    official_flops: int
    flops_train_mode: bool
    cases: list[Case]
    outputs: dict[str, np.ndarray]  # "<case>" or "<case>.<i>" -> float32 array

    @property
    def json_path(self) -> Path:
        return FIXTURE_DIR / f"{self.variant}.json"

    def checkpoint_state_dict(self) -> dict[str, torch.Tensor]:
        tensors, digest = build_tensors(self.seed, self.tensors)
        if digest != self.weights_sha256:
            raise AssertionError(
                f"{self.variant}: the rebuilt weights' SHA-256 {digest} differs from the recorded "
                f"{self.weights_sha256}: the weight generator changed"
            )
        return tensors

    def pinned_tensors(self) -> dict[str, torch.Tensor]:
        return {key: recipe.build(self.seed, key) for key, recipe in self.pinned.items()}

    def case_outputs(self, case: Case) -> list[np.ndarray]:
        if case.name in self.outputs:
            return [self.outputs[case.name]]
        return [self.outputs[f"{case.name}.{i}"] for i in range(sum(k.startswith(case.name + ".") for k in self.outputs))]

    def to_json(self) -> dict[str, Any]:
        return dict(
            variant=self.variant,
            family=self.family,
            upstream=self.upstream,
            checkpoint_format=self.checkpoint_format,
            official=dict(params=self.official_params, flops=self.official_flops, flops_train_mode=self.flops_train_mode),
            cases=[case.to_json() for case in self.cases],
            weights=dict(
                seed=self.seed,
                sha256=self.weights_sha256,
                pinned={key: recipe.to_json() for key, recipe in self.pinned.items()},
                tensors={key: recipe.to_json() for key, recipe in self.tensors.items()},
            ),
        )

    def save(self) -> tuple[Path, Path]:
        FIXTURE_DIR.mkdir(parents=True, exist_ok=True)
        self.json_path.write_text(_to_text(self.to_json()))
        arrays = self.json_path.with_suffix(".npz")
        np.savez_compressed(arrays, **{k: v.astype(np.float32) for k, v in self.outputs.items()})
        return self.json_path, arrays

    @classmethod
    def load(cls, variant: str) -> Fixture:
        path = FIXTURE_DIR / f"{variant}.json"
        data = json.loads(path.read_text())
        with np.load(path.with_suffix(".npz")) as arrays:
            outputs = {key: arrays[key] for key in arrays.files}
        weights, official = data["weights"], data["official"]
        return cls(
            variant=data["variant"],
            family=data["family"],
            upstream=data["upstream"],
            checkpoint_format=data["checkpoint_format"],
            seed=weights["seed"],
            tensors={k: TensorRecipe.from_json(v) for k, v in weights["tensors"].items()},
            weights_sha256=weights["sha256"],
            pinned={k: TensorRecipe.from_json(v) for k, v in weights["pinned"].items()},
            official_params=official["params"],
            official_flops=official["flops"],
            flops_train_mode=official["flops_train_mode"],
            cases=[Case.from_json(c) for c in data["cases"]],
            outputs=outputs,
        )


def _to_text(data: dict[str, Any]) -> str:
    """Indented JSON with one tensor recipe per line (diffable without bloating the file)."""
    weights = data["weights"]
    rows = {}
    for field in ("pinned", "tensors"):
        lines = [f"   {json.dumps(k)}: {json.dumps(v)}" for k, v in weights[field].items()]
        rows[field] = "{\n" + ",\n".join(lines) + "\n  }" if lines else "{}"
    text = json.dumps({**data, "weights": {**weights, **{f: f"@{f}@" for f in rows}}}, indent=1)
    text = re.sub(r"\[([\d\s,.-]*)\]", lambda m: "[" + " ".join(m.group(1).split()) + "]", text)  # shapes
    for field, block in rows.items():
        text = text.replace(json.dumps(f"@{field}@"), block)
    return text + "\n"


def fixture_variants() -> list[str]:
    """The variants that have a fixture, in a stable order."""
    return sorted(path.stem for path in FIXTURE_DIR.glob("*.json"))


# ---------------------------------------------------------------------------------------- checkpoints
def _config_object(**fields: Any) -> object:
    """A pickled yacs ``CfgNode`` as the original training scripts save (``argparse.Namespace``
    where yacs is not installed); torch's weights-only loader refuses both."""
    try:
        from yacs.config import CfgNode
    except ImportError:
        return argparse.Namespace(**fields)
    return CfgNode({k: CfgNode(v) if isinstance(v, dict) else v for k, v in fields.items()})


def _decoy(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """EMA weights that must not be the ones loaded: all zeros, stored as one-element expanded
    storages so the file does not grow."""
    return {k: v.new_zeros(()).expand(v.shape) for k, v in state_dict.items()}


def _training_checkpoint(state_dict, *, ema: bool, args: bool, **extra) -> dict[str, object]:
    checkpoint: dict[str, object] = {
        "model": dict(state_dict),
        "optimizer": {"state": {}, "param_groups": [{"lr": 1e-3, "weight_decay": 0.05, "params": [0, 1]}]},
        "lr_scheduler": {"last_epoch": 262},
        "max_accuracy": 82.6,
        "epoch": 262,
        "config": _config_object(MODEL=dict(NAME="vssm", DROP_PATH_RATE=0.2), TRAIN=dict(EPOCHS=300)),
        **extra,
    }
    if ema:
        checkpoint["model_ema"] = _decoy(state_dict)
    if args:
        checkpoint["args"] = argparse.Namespace(cfg="configs/vssm/vssm_small_224.yaml", batch_size=128)
    return checkpoint


# format name -> how the authors' release stores the state dict
ORIGINAL_FORMATS = {
    # MzeroMiko/VMamba releases: weights under "model" (EMA already folded in), optimizer state,
    # scheduler, epoch and the yacs config of the run
    "vmamba": lambda sd: _training_checkpoint(sd, ema=False, args=False),
    # TerryPei/EfficientVMamba on the Hugging Face hub: the EMA of a DDP-wrapped model
    "efficientvmamba": lambda sd: {"state_dict": {f"module.module.{k}": v for k, v in sd.items()}},
    # Amshaker/GroupMamba *_ema.pth: a flat state dict of the EMA model
    "groupmamba": lambda sd: dict(sd),
    # EdwardChasel/Spatial-Mamba main.py: "model" next to "model_ema", optimizer, AMP scaler, config
    "spatialmamba": lambda sd: _training_checkpoint(sd, ema=True, args=False, scaler={"scale": 65536.0}),
    # ChiShengChen/ResVMamba ckpt_epoch_166.pth: as Spatial-Mamba's plus the argparse namespace
    "resvmamba": lambda sd: _training_checkpoint(
        sd, ema=True, args=True, scaler={"scale": 65536.0}, max_accuray_ema=79.4
    ),
}


def write_original_checkpoint(path: Path, state_dict: Mapping[str, torch.Tensor], checkpoint_format: str) -> Path:
    """Save ``state_dict`` the way the authors' release file holds it (see ORIGINAL_FORMATS)."""
    if checkpoint_format not in ORIGINAL_FORMATS:
        raise ValueError(f"unknown checkpoint format {checkpoint_format!r}; known: {sorted(ORIGINAL_FORMATS)}")
    torch.save(ORIGINAL_FORMATS[checkpoint_format](state_dict), path)
    return path


def max_abs_diff(actual: Iterable[torch.Tensor], expected: Iterable[np.ndarray]) -> tuple[float, float]:
    """(max |actual - expected|, max |expected|) over paired tensors."""
    diff = scale = 0.0
    for a, e in zip(actual, expected, strict=True):
        e = torch.from_numpy(np.asarray(e))
        if tuple(a.shape) != tuple(e.shape):
            raise AssertionError(f"shape {tuple(a.shape)} vs recorded {tuple(e.shape)}")
        diff = max(diff, (a.float() - e).abs().max().item())
        scale = max(scale, e.abs().max().item())
    return diff, scale
