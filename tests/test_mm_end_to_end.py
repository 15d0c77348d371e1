"""End to end on the CPU with the built-in synthetic data: the repository's Mask R-CNN and
UperNet configs (shrunk backbone, small images) train through tools/train.py, save, resume,
and tools/test.py prints COCO bbox/segm mAP and mIoU; a 2-process torchrun (gloo) run trains a
detector; and the losses go down on a fixed batch."""

from __future__ import annotations

import copy
import math
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("mmdet")
pytest.importorskip("mmseg")
pytest.importorskip("mmcv.ops")

from vmamba_zoo.data import make_synthetic_ade20k, make_synthetic_coco  # noqa: E402
from vmamba_zoo.mm.synthetic import synthetic_detection_config, synthetic_segmentation_config  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _free_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


def _run(*args: str, timeout: int = 900) -> str:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               PYTHON=sys.executable, PORT=_free_port())
    result = subprocess.run(
        [*args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    return output


@pytest.fixture(scope="module")
def coco(tmp_path_factory) -> str:
    return make_synthetic_coco(tmp_path_factory.mktemp("coco"), num_train=4, num_val=2, size=(64, 64))


def _detection_config(coco: str, work_dir: Path, **kwargs) -> Path:
    cfg = synthetic_detection_config(coco, str(work_dir), img_scale=(64, 64), **kwargs)
    cfg.train_cfg.val_interval = 100  # evaluate with tools/test.py only
    path = work_dir / "mask_rcnn.py"
    work_dir.mkdir(parents=True, exist_ok=True)
    cfg.dump(str(path))
    return path


def test_synthetic_coco_is_valid_coco(coco):
    from pycocotools.coco import COCO

    for split, count in (("train", 4), ("val", 2)):
        api = COCO(os.path.join(coco, "annotations", f"instances_{split}.json"))
        assert len(api.getImgIds()) == count and len(api.getCatIds()) == 3
        for ann in api.loadAnns(api.getAnnIds()):
            assert ann["area"] > 0 and ann["bbox"][2] > 0 and len(ann["segmentation"][0]) >= 6
            assert api.annToMask(ann).sum() > 0


def test_detection_loss_decreases_on_fixed_batch(coco, tmp_path):
    from mmdet.registry import DATASETS, MODELS
    from mmengine.dataset import pseudo_collate
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope

    torch.manual_seed(0)
    cfg = synthetic_detection_config(coco, str(tmp_path), img_scale=(64, 64))
    with DefaultScope.overwrite_default_scope("mmdet"):
        model = MODELS.build(cfg.model)
        dataset = DATASETS.build(cfg.train_dataloader.dataset)
        optim = build_optim_wrapper(model, cfg.optim_wrapper)
    batch = pseudo_collate([dataset[0], dataset[1]])
    model.train()
    losses = []
    for _ in range(6):
        torch.manual_seed(1)  # same RoI sampling every step: only the weights change
        parsed, log_vars = model.parse_losses(model(**model.data_preprocessor(batch, True), mode="loss"))
        optim.update_params(parsed)
        losses.append(parsed.item())
    assert all(math.isfinite(v) for v in losses), losses
    assert losses[-1] < losses[0], losses


def test_detection_train_resume_test(coco, tmp_path):
    config = _detection_config(coco, tmp_path / "work", epochs=1)
    _run(sys.executable, "tools/train.py", str(config), "--work-dir", str(tmp_path / "work"))
    assert (tmp_path / "work" / "epoch_1.pth").is_file()
    out = _run(sys.executable, "tools/train.py", str(config), "--work-dir", str(tmp_path / "work"),
               "--resume", "--cfg-options", "train_cfg.max_epochs=2")
    assert "resumed epoch: 1" in out, out[-3000:]
    assert "Epoch(train) [2]" in out
    checkpoint = tmp_path / "work" / "epoch_2.pth"
    assert checkpoint.is_file()
    out = _run(sys.executable, "tools/test.py", str(config), str(checkpoint), "--work-dir", str(tmp_path / "test"))
    assert "coco/bbox_mAP:" in out and "coco/segm_mAP:" in out, out[-3000:]


def test_segmentation_train_test(tmp_path):
    data = make_synthetic_ade20k(tmp_path / "ade", num_train=4, num_val=2, size=(64, 64))
    cfg = synthetic_segmentation_config(data, str(tmp_path / "work"), iters=2)
    cfg.train_cfg.val_interval = 100
    config = tmp_path / "upernet.py"
    cfg.dump(str(config))
    out = _run(sys.executable, "tools/train.py", str(config))
    assert "Iter(train) [2/2]" in out, out[-3000:]
    checkpoint = tmp_path / "work" / "iter_2.pth"
    assert checkpoint.is_file()
    out = _run(sys.executable, "tools/test.py", str(config), str(checkpoint), "--work-dir", str(tmp_path / "test"))
    assert "mIoU:" in out, out[-3000:]


def test_two_process_torchrun_detection(coco, tmp_path):
    config = _detection_config(coco, tmp_path / "work", epochs=1, batch_size=1)
    out = _run("bash", "tools/dist_train.sh", str(config), "2", "--work-dir", str(tmp_path / "work"),
               timeout=1200)
    assert "Epoch(train) [1][2/2]" in out, out[-3000:]  # 4 images, 2 processes x 1 image per step
    assert (tmp_path / "work" / "epoch_1.pth").is_file()


def test_get_flops_whole_detector(coco, tmp_path):
    config = _detection_config(coco, tmp_path / "work")
    out = _run(sys.executable, "tools/get_flops.py", str(config), "--shape", "64", "96")
    assert "input: 3x64x96" in out and "model params:" in out, out[-3000:]
    assert float(out.split("model FLOPs:")[1].split()[0]) > 0


# ============================================================================================
# Strict whole-model loading through the tools: tools/test.py evaluates nothing and
# tools/train.py --resume trains nothing from a checkpoint that does not fit (exit status 1, the
# keys named); the authors' {'model': state_dict} layout loads; --non-strict loads what fits.


def _run_status(*args: str, timeout: int = 900) -> tuple[int, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([*args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    return result.returncode, result.stdout + result.stderr


def test_tools_load_whole_model_checkpoints_strictly(tmp_path):
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    data = make_synthetic_ade20k(tmp_path / "ade", num_train=2, num_val=1, size=(64, 64))
    cfg = synthetic_segmentation_config(data, str(tmp_path / "work"), iters=2)
    config = tmp_path / "upernet.py"
    cfg.dump(str(config))
    init_default_scope("mmseg")
    weights = MODELS.build(cfg.model).state_dict()
    torch.save({"model": weights}, tmp_path / "authors.pth")
    torch.save({"state_dict": dict(list(weights.items())[: len(weights) // 2]), "meta": {}}, tmp_path / "half.pth")
    test = (sys.executable, "tools/test.py", str(config))
    out = _run(*test, str(tmp_path / "authors.pth"), "--work-dir", str(tmp_path / "t1"))
    assert "(strict: every tensor matched)" in out and "mIoU:" in out, out[-3000:]

    status, out = _run_status(*test, str(tmp_path / "half.pth"), "--work-dir", str(tmp_path / "t2"))
    assert status == 1 and "does not fit EncoderDecoder" in out and "missing (" in out, out[-3000:]
    assert "decode_head." in out and "mIoU:" not in out and "Traceback" not in out, out[-3000:]

    out = _run(*test, str(tmp_path / "half.pth"), "--work-dir", str(tmp_path / "t3"), "--non-strict")
    total = len(weights)
    assert f"non-strictly: {total // 2} of the model's {total} tensors loaded" in out and "mIoU:" in out, out[-3000:]

    status, out = _run_status(sys.executable, "tools/train.py", str(config), "--resume", str(tmp_path / "half.pth"))
    assert status == 1 and "does not fit EncoderDecoder" in out and "Iter(train)" not in out, out[-3000:]


# ============================================================================================
# An AMP config trains on a CPU: tools/train.py --amp (AmpOptimWrapper) falls back to a float32
# OptimWrapper with a log line where there is no GPU.


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the fallback where there is no GPU")
def test_amp_training_falls_back_to_float32_on_a_cpu(tmp_path):
    data = make_synthetic_ade20k(tmp_path / "ade", num_train=2, num_val=1, size=(64, 64))
    cfg = synthetic_segmentation_config(data, str(tmp_path / "work"), iters=2)
    cfg.train_cfg.val_interval = 100
    config = tmp_path / "upernet.py"
    cfg.dump(str(config))
    out = _run(sys.executable, "tools/train.py", str(config), "--amp")
    assert "AmpOptimWrapper needs a GPU and this machine trains on cpu: training in float32" in out, out[-3000:]
    assert "Iter(train) [2/2]" in out, out[-3000:]


# ============================================================================================
# Kill and resume: a detection (epoch-based) and a segmentation (iteration-based) run killed
# with SIGKILL mid-epoch / between checkpoints, then `tools/train.py --resume`, ends with the
# same weights, optimizer state and loss curve as the uninterrupted run, bitwise.

_KILL_HOOK = '''
import os
import signal

from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class SigkillAfterIter(Hook):
    """SIGKILLs its own process after training iteration `iters`: no clean-up of any kind."""

    def __init__(self, iters):
        self.iters = iters

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.iter + 1 == self.iters:
            os.kill(os.getpid(), signal.SIGKILL)
'''


def _losses(work_dir: Path) -> dict[int, float]:
    """iteration -> loss, from every run's scalars.json in work_dir (full float precision)."""
    import json

    losses = {}
    for path in sorted(work_dir.glob("*/vis_data/scalars.json")):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if "loss" in record and "step" in record and "lr" in record:  # training records
                losses[record["step"]] = record["loss"]
    return losses


def _kill_and_resume(cfg, tmp_path: Path, kill_after: int, checkpoint: str, final: str) -> None:
    (tmp_path / "hooks").mkdir()
    (tmp_path / "hooks" / "sigkill_hook.py").write_text(_KILL_HOOK)
    cfg.default_hooks.logger.interval = 1  # one loss per iteration, unsmoothed
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    config = tmp_path / "config.py"
    cfg.work_dir = str(straight)
    cfg.dump(str(config))
    kill_cfg = copy.deepcopy(cfg)
    kill_cfg.custom_imports.imports = [*cfg.custom_imports.imports, "sigkill_hook"]
    kill_cfg.custom_hooks = [*cfg.get("custom_hooks", []), dict(type="SigkillAfterIter", iters=kill_after)]
    kill_cfg.work_dir = str(killed)
    kill_config = tmp_path / "kill_config.py"
    kill_cfg.dump(str(kill_config))

    _run(sys.executable, "tools/train.py", str(config))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(tmp_path / "hooks")]))
    result = subprocess.run([sys.executable, "tools/train.py", str(kill_config)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == -signal.SIGKILL, result.stdout[-3000:] + result.stderr[-3000:]
    assert (killed / checkpoint).is_file() and not (killed / final).exists()
    out = _run(sys.executable, "tools/train.py", str(config), "--work-dir", str(killed), "--resume")
    assert "Auto resumed from the latest checkpoint" in out, out[-3000:]

    a, b = (torch.load(d / final, map_location="cpu", weights_only=False) for d in (straight, killed))
    for key in ("state_dict", "optimizer", "param_schedulers"):
        _assert_same(a[key], b[key], key)
    assert a["meta"]["iter"] == b["meta"]["iter"]
    straight_losses, resumed_losses = _losses(straight), _losses(killed)
    assert sorted(straight_losses) == sorted(resumed_losses) == list(range(1, a["meta"]["iter"] + 1))
    assert straight_losses == resumed_losses  # the killed run's iterations past the checkpoint are redone


def _assert_same(a, b, where: str) -> None:
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), f"{where} differs (max abs diff {(a.double() - b.double()).abs().max()})"
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def test_detection_sigkill_and_resume_equals_uninterrupted(coco, tmp_path):
    """Mask R-CNN, 2 epochs of 2 iterations; SIGKILL after iteration 3 (mid epoch 2), resume from
    epoch_1.pth."""
    cfg = synthetic_detection_config(coco, str(tmp_path / "unused"), img_scale=(64, 64), epochs=2)
    cfg.train_cfg.val_interval = 100
    assert any(hook.type == "EpochSeedHook" for hook in cfg.custom_hooks)  # from the shipped config
    _kill_and_resume(cfg, tmp_path, kill_after=3, checkpoint="epoch_1.pth", final="epoch_2.pth")


def test_segmentation_sigkill_and_resume_equals_uninterrupted(tmp_path):
    """UperNet, 6 iterations, a checkpoint every 3, one dataloader worker (which holds the
    augmentations' randomness); SIGKILL after iteration 5, resume from iter_3.pth."""
    data = make_synthetic_ade20k(tmp_path / "ade", num_train=4, num_val=1, size=(64, 64))
    cfg = synthetic_segmentation_config(data, str(tmp_path / "unused"), iters=6)
    cfg.train_cfg.val_interval = 100
    cfg.train_dataloader.num_workers = 1
    assert any(hook.type == "IterSeedHook" for hook in cfg.custom_hooks)  # from the shipped config
    _kill_and_resume(cfg, tmp_path, kill_after=5, checkpoint="iter_3.pth", final="iter_6.pth")
