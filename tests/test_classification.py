"""Classification pipeline (mmpretrain): every config builds; train, checkpoint, resume and
evaluate on a synthetic ImageFolder; released checkpoints evaluate through ``load_from``.

Runs use a tiny zoo model (VMamba-T s1l8's architecture with one block of width 16 per stage) on
32x32 images of 5 classes, on the CPU, through MMEngine's Runner exactly as ``tools/train.py`` and
``tools/test.py`` drive it.
"""

from __future__ import annotations

import argparse
import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("mmpretrain", reason="the classification pipeline needs mmpretrain (and mmcv)")

import timm  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.hooks import Hook  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import vmamba_zoo  # noqa: E402, F401
from vmamba_zoo.data.synthetic_imagefolder import make_synthetic_imagefolder  # noqa: E402
from vmamba_zoo.checkpoint import CheckpointMismatchError  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO / "configs" / "classification"
CONFIGS = sorted(p for p in CONFIG_DIR.rglob("*.py") if "_base_" not in p.parts)
NUM_CLASSES = 5
TINY_MODEL = dict(model_name="vmamba_tiny_s1l8", depths=(1, 1, 1, 1), dims=16)
IMAGE_SIZE = 32


@pytest.fixture(scope="module")
def imagefolder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_synthetic_imagefolder(
        tmp_path_factory.mktemp("imagefolder"), num_classes=NUM_CLASSES, images_per_class=(2, 1), image_size=40
    )


def _shrink_pipeline(pipeline: list[dict]) -> None:
    for transform in pipeline:
        if transform["type"] == "RandomResizedCrop":
            transform["scale"] = IMAGE_SIZE
        elif transform["type"] == "ResizeEdge":
            transform["scale"] = IMAGE_SIZE + 4
        elif transform["type"] == "CenterCrop":
            transform["crop_size"] = IMAGE_SIZE


def tiny_run_cfg(config: str, data_root: Path, work_dir: Path, max_epochs: int = 2, **model: object) -> Config:
    """A released-model config shrunk to a CPU run of a few iterations on the synthetic data."""
    cfg = Config.fromfile(CONFIG_DIR / config)
    cfg.work_dir = str(work_dir)
    cfg.model.update(TINY_MODEL, num_classes=NUM_CLASSES, **model)
    cfg.data_preprocessor.num_classes = NUM_CLASSES
    for split, loader in (("train", cfg.train_dataloader), ("val", cfg.val_dataloader)):
        pipeline = copy.deepcopy(loader.dataset.pipeline)
        _shrink_pipeline(pipeline)
        loader.dataset = dict(type="CustomDataset", data_root=str(data_root), data_prefix=split, pipeline=pipeline)
        loader.batch_size = 4
        loader.num_workers = 0
    cfg.test_dataloader = copy.deepcopy(cfg.val_dataloader)
    cfg.optim_wrapper.type = "OptimWrapper"  # AMP needs a GPU
    cfg.param_scheduler = [
        dict(type="LinearLR", start_factor=1e-3, by_epoch=True, begin=0, end=1, convert_to_iter_based=True),
        dict(
            type="CosineAnnealingLR", eta_min=1e-5, by_epoch=True, begin=1, end=max_epochs, convert_to_iter_based=True
        ),
    ]
    cfg.train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=max_epochs)
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.update(max_keep_ckpts=-1, save_best=None)
    return cfg


class _Interrupt(Hook):
    """Raises after ``after_iters`` training iterations, like a killed job."""

    def __init__(self, after_iters: int) -> None:
        self.after_iters = after_iters

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if runner.iter + 1 >= self.after_iters:
            raise KeyboardInterrupt("simulated interruption")


def _load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=False)


def _assert_same_tensors(a: object, b: object, where: str) -> None:
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), f"{where} differs (max abs diff {(a.float() - b.float()).abs().max()})"
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), f"{where}: keys differ"
        for key in a:
            _assert_same_tensors(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{where}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same_tensors(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


# --------------------------------------------------------------------------------------------
# configs


def test_there_is_a_config_per_released_model() -> None:
    names = {Config.fromfile(path).model.model_name for path in CONFIGS}
    released = {
        *(f"vmamba_{s}" for s in ("tiny_s1l8", "small_s1l20", "base_s1l20", "tiny_s2l5", "small_s2l15", "base_s2l15")),
        *(f"vmamba_{s}_v0" for s in ("tiny", "small", "base")),
        *(
            f"{family}_{size}"
            for family in ("efficientvmamba", "groupmamba", "spatialmamba")
            for size in ("tiny", "small", "base")
        ),
        "resvmamba_small",
    }
    assert released <= names


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.stem)
def test_config_parses_and_its_pipelines_build(config: Path) -> None:
    from mmpretrain.registry import TRANSFORMS

    cfg = Config.fromfile(config)
    assert cfg.custom_imports.imports == ["vmamba_zoo.mm.pretrain"]
    assert cfg.model.type == "ZooClassifier"
    assert cfg.model.get("num_classes", 1000) == cfg.data_preprocessor.num_classes
    init_default_scope(cfg.default_scope)
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        for transform in loader.dataset.pipeline:
            TRANSFORMS.build(transform)


@pytest.mark.slow
@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.stem)
def test_config_builds(config: Path) -> None:
    """Model (full size), optimizer wrapper and LR schedule of every config build."""
    from mmengine.optim import build_optim_wrapper
    from mmpretrain.registry import MODELS, PARAM_SCHEDULERS

    cfg = Config.fromfile(config)
    init_default_scope(cfg.default_scope)
    model_cfg = copy.deepcopy(cfg.model)
    if not timm.is_model(model_cfg.model_name):
        pytest.skip(f"{model_cfg.model_name} is not registered yet")
    if "distillation" in model_cfg:  # no download at test time
        model_cfg.distillation.teacher_kwargs.pretrained = False
    model_cfg.setdefault("data_preprocessor", cfg.data_preprocessor)
    model = MODELS.build(model_cfg)
    assert model.model.num_classes == cfg.data_preprocessor.num_classes
    optim_cfg = copy.deepcopy(cfg.optim_wrapper)
    assert optim_cfg.type == "AmpOptimWrapper"  # every recipe trains with AMP
    if not torch.cuda.is_available():  # MMEngine's AMP wrapper needs a GPU
        optim_cfg.type = "OptimWrapper"
    optim_wrapper = build_optim_wrapper(model, optim_cfg)
    for scheduler in cfg.param_scheduler:
        extra = dict(epoch_length=10) if scheduler.get("convert_to_iter_based") else {}
        PARAM_SCHEDULERS.build(dict(scheduler, optimizer=optim_wrapper.optimizer, **extra))


def test_weight_decay_exemptions_follow_the_original_recipe() -> None:
    """1-D parameters and biases get no weight decay; the 2-D scan parameters (A_logs,
    dt_projs_bias, x_proj_weight, dt_projs_weight) do, as in VMamba's optimizer."""
    from mmengine.optim import build_optim_wrapper
    from mmpretrain.registry import MODELS

    cfg = Config.fromfile(CONFIG_DIR / "vmamba" / "vmamba-tiny-s1l8_8xb128_in1k.py")
    init_default_scope("mmpretrain")
    model = MODELS.build(dict(cfg.model, **TINY_MODEL))
    optim_wrapper = build_optim_wrapper(model, dict(cfg.optim_wrapper, type="OptimWrapper"))
    decay_of = {id(p): group["weight_decay"] for group in optim_wrapper.optimizer.param_groups for p in group["params"]}
    for name, param in model.named_parameters():
        no_decay = param.ndim <= 1 or name.endswith(".bias")
        assert decay_of[id(param)] == (0.0 if no_decay else 0.05), name
    names = {name.rsplit(".", 1)[-1] for name, p in model.named_parameters() if decay_of[id(p)] > 0}
    assert {"A_logs", "dt_projs_bias", "x_proj_weight", "dt_projs_weight"} <= names


# --------------------------------------------------------------------------------------------
# train / checkpoint / resume / evaluate


@pytest.mark.slow
def test_train_interrupt_resume_matches_uninterrupted_run(imagefolder: Path, tmp_path: Path) -> None:
    """Train 2 epochs (3 iterations each) uninterrupted, and again with an interruption after
    iteration 5 (mid epoch 2) plus ``resume``: weights, EMA weights, optimizer and scheduler state
    are bitwise equal. Then evaluate the result (top-1 / top-5)."""
    config = "vmamba/vmamba-tiny-s1l8_8xb128_in1k.py"
    Runner.from_cfg(tiny_run_cfg(config, imagefolder, tmp_path / "straight")).train()

    interrupted = Runner.from_cfg(tiny_run_cfg(config, imagefolder, tmp_path / "resumed"))
    interrupted.register_hook(_Interrupt(after_iters=5))
    with pytest.raises(KeyboardInterrupt):
        interrupted.train()
    assert (tmp_path / "resumed" / "epoch_1.pth").is_file()
    assert not (tmp_path / "resumed" / "epoch_2.pth").exists()

    resume_cfg = tiny_run_cfg(config, imagefolder, tmp_path / "resumed")
    resume_cfg.resume = True  # tools/train.py --resume: the latest checkpoint of the work dir
    Runner.from_cfg(resume_cfg).train()

    straight, resumed = _load(tmp_path / "straight" / "epoch_2.pth"), _load(tmp_path / "resumed" / "epoch_2.pth")
    assert resumed["meta"]["iter"] == straight["meta"]["iter"] == 6
    for key in ("state_dict", "ema_state_dict", "optimizer", "param_schedulers"):
        _assert_same_tensors(straight[key], resumed[key], key)
    # the EMA really is a different set of weights (state_dict holds the EMA, see default_runtime.py)
    ema_raw = {k[len("module."):]: v for k, v in straight["ema_state_dict"].items() if k.startswith("module.")}
    assert any(not torch.equal(ema_raw[k], v) for k, v in straight["state_dict"].items() if v.is_floating_point())

    test_cfg = tiny_run_cfg(config, imagefolder, tmp_path / "test")
    test_cfg.load_from = str(tmp_path / "resumed" / "epoch_2.pth")
    metrics = Runner.from_cfg(test_cfg).test()
    assert set(metrics) == {"accuracy/top1", "accuracy/top5"}
    assert 0.0 <= metrics["accuracy/top1"] <= metrics["accuracy/top5"] == 100.0


def _tool(*args: str) -> str:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


@pytest.mark.slow
def test_tools_train_resume_and_test(imagefolder: Path, tmp_path: Path) -> None:
    """tools/train.py trains a config (stopped after its first epoch), --resume finishes it,
    tools/test.py evaluates the result and an original release (top-1 / top-5)."""
    config = tmp_path / "tiny.py"
    tiny_run_cfg("vmamba/vmamba-tiny-s1l8_8xb128_in1k.py", imagefolder, tmp_path / "work", max_epochs=2).dump(config)
    _tool("tools/train.py", str(config), "--cfg-options", "train_cfg.max_epochs=1")
    assert (tmp_path / "work" / "epoch_1.pth").is_file()
    log = _tool("tools/train.py", str(config), "--resume")
    assert "Auto resumed from the latest checkpoint" in log and "resumed epoch: 1, iter: 3" in log
    assert (tmp_path / "work" / "epoch_2.pth").is_file()

    for checkpoint in (
        tmp_path / "work" / "epoch_2.pth",
        _released_checkpoint(
            tmp_path / "released.pth", timm.create_model(**TINY_MODEL, num_classes=NUM_CLASSES).state_dict()
        ),
    ):
        log = _tool("tools/test.py", str(config), str(checkpoint), "--work-dir", str(tmp_path / "test"))
        assert "accuracy/top1:" in log and "accuracy/top5:" in log


def _released_checkpoint(path: Path, state_dict: dict) -> Path:
    """A file laid out like the authors' releases: weights under ``model`` beside optimizer state
    and a pickled config object that ``torch.load(weights_only=True)`` refuses."""
    torch.save(
        {"model": state_dict, "optimizer": {}, "epoch": 299, "config": argparse.Namespace(lr=1e-3)},
        path,
    )
    return path


def test_test_tool_evaluates_a_released_checkpoint(imagefolder: Path, tmp_path: Path) -> None:
    cfg = tiny_run_cfg("vmamba/vmamba-tiny-s1l8_8xb128_in1k.py", imagefolder, tmp_path / "work")
    reference = timm.create_model(**TINY_MODEL, num_classes=NUM_CLASSES)
    cfg.load_from = str(_released_checkpoint(tmp_path / "released.pth", reference.state_dict()))
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    assert set(metrics) == {"accuracy/top1", "accuracy/top5"}
    for name, tensor in reference.state_dict().items():
        assert torch.equal(runner.model.model.state_dict()[name], tensor), name

    # what the test evaluated is the released model: same predictions as the timm model
    reference.eval()
    images = torch.randn(2, 3, IMAGE_SIZE, IMAGE_SIZE)
    with torch.no_grad():
        assert torch.equal(runner.model(images, mode="tensor"), reference(images))


def test_test_tool_rejects_a_released_checkpoint_that_does_not_fit(imagefolder: Path, tmp_path: Path) -> None:
    cfg = tiny_run_cfg("vmamba/vmamba-tiny-s1l8_8xb128_in1k.py", imagefolder, tmp_path / "work")
    state_dict = timm.create_model(**TINY_MODEL, num_classes=NUM_CLASSES).state_dict()
    state_dict["stages.0.not_a_weight"] = torch.zeros(3)
    cfg.load_from = str(_released_checkpoint(tmp_path / "released.pth", state_dict))
    with pytest.raises(CheckpointMismatchError, match="not_a_weight"):
        Runner.from_cfg(cfg).test()


def test_finetune_config_starts_from_released_weights_with_a_new_head(imagefolder: Path, tmp_path: Path) -> None:
    """init_cfg Pretrained (the generic fine-tune config): the backbone comes from a 1000-class
    release, the head is fresh; nothing is loaded outside training."""
    source = timm.create_model(**TINY_MODEL, num_classes=1000)
    released = _released_checkpoint(tmp_path / "imagenet.pth", source.state_dict())
    cfg = tiny_run_cfg("finetune/zoo-model_1xb64_imagefolder.py", imagefolder, tmp_path / "work", max_epochs=1)
    cfg.model.init_cfg.checkpoint = str(released)
    runner = Runner.from_cfg(cfg)
    runner._init_model_weights()  # what Runner.train() does first
    loaded = runner.model.model.state_dict()
    for name, tensor in source.state_dict().items():
        if name.startswith("head.fc."):
            assert loaded[name].shape[0] == NUM_CLASSES
        else:
            assert torch.equal(loaded[name], tensor), name


@pytest.mark.slow
def test_mesa_adds_the_ema_distillation_loss_from_its_start_epoch(imagefolder: Path, tmp_path: Path) -> None:
    cfg = tiny_run_cfg(
        "spatialmamba/spatialmamba-tiny_8xb128_in1k.py", imagefolder, tmp_path / "work", max_epochs=2,
        mesa=dict(weight=1.0, start_epoch=1),
    )
    runner = Runner.from_cfg(cfg)
    seen = []

    class _Record(Hook):
        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
            seen.append((runner.epoch, "loss_mesa" in outputs))

    runner.register_hook(_Record())
    runner.train()
    assert {flag for epoch, flag in seen if epoch == 0} == {False}
    assert {flag for epoch, flag in seen if epoch == 1} == {True}


def test_distillation_trains_the_distillation_head_on_the_teachers_labels() -> None:
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample

    init_default_scope("mmpretrain")
    if not timm.is_model("groupmamba_tiny"):
        pytest.skip("groupmamba_tiny is not registered yet")
    model = MODELS.build(dict(
        type="ZooClassifier",
        model_name="groupmamba_tiny",
        embed_dims=(16, 16, 16, 16), depths=(1, 1, 1, 1), stem_hidden_dim=8,
        num_classes=NUM_CLASSES,
        distillation=dict(teacher="test_resnet", teacher_kwargs=dict(num_classes=NUM_CLASSES)),
    ))
    model.train()
    images = torch.randn(2, 3, IMAGE_SIZE, IMAGE_SIZE)
    samples = [DataSample().set_gt_label(i) for i in range(2)]
    losses = model.loss(images, samples)
    assert set(losses) == {"loss", "loss_distill"}
    class_logits, dist_logits = model.model(images)
    with torch.no_grad():
        teacher_labels = model._teacher.module(images).argmax(1)
    expected = 0.5 * torch.nn.functional.cross_entropy(dist_logits, teacher_labels)
    torch.testing.assert_close(losses["loss_distill"], expected)
    # the teacher is neither saved nor optimised
    assert not any(key.startswith("_teacher") for key in model.state_dict())


# --------------------------------------------------------------------------------------------
# synthetic data


def test_synthetic_imagefolder_is_deterministic_and_laid_out_like_imagefolder(tmp_path: Path) -> None:
    a = make_synthetic_imagefolder(tmp_path / "a", num_classes=3, images_per_class=(2, 1), image_size=16)
    b = make_synthetic_imagefolder(tmp_path / "b", num_classes=3, images_per_class=(2, 1), image_size=16)
    files = sorted(p.relative_to(a) for p in a.rglob("*.png"))
    assert [str(p) for p in files] == [
        f"{split}/class_{c:03d}/{i:04d}.png"
        for split, n in (("train", 2), ("val", 1))
        for c in range(3)
        for i in range(n)
    ]
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    with pytest.raises(ValueError, match="class_names"):
        make_synthetic_imagefolder(tmp_path / "c", num_classes=2, class_names=["b", "a"])
