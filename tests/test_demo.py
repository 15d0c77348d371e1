"""``make demo``: the family list follows ``vmamba_zoo.published``, the synthetic scenes the
detection demo trains on, the quiet console, and (slow) the detection demo itself: its quick
form writes its pictures and JSON with a short console; its default form learns (mAP targets)."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from vmamba_zoo import published
from vmamba_zoo.data import SceneStyle, make_synthetic_coco
from vmamba_zoo.data.scenes import random_shapes

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load_tool(name: str):
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO, "tools", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_family_models_follow_published(monkeypatch):
    demo = _load_tool("demo")
    names = [name for _, name in demo.family_models()]
    assert {published.family_of(name).key for name in names} == set(published.FAMILIES)
    assert "vmamba_tiny_v0" in names and "vmamba_tiny_s1l8" in names  # smallest and the paper's final T

    # a sixth family is measured once its table rows exist, without editing the demo
    template = published.MODELS["groupmamba_tiny"]
    sixth = replace(published.FAMILIES["groupmamba"], key="newmamba", title="NewMamba")
    monkeypatch.setitem(published.FAMILIES, "newmamba", sixth)
    for name, params in (("newmamba_small", 20), ("newmamba_tiny", 10)):
        monkeypatch.setitem(published.MODELS, name, replace(template, name=name, family="newmamba",
                                                            reference_params=params))
    assert [name for _, name in demo.family_models()][-1] == "newmamba_tiny"  # its smallest model


def test_scene_style_checks_its_arguments():
    for kwargs, message in ((dict(num_classes=0), "num_classes"), (dict(max_objects=0), "max_objects"),
                            (dict(radius=(0.3, 0.2)), "radius"), (dict(radius=(0.1, 0.6)), "radius")):
        with pytest.raises(ValueError, match=message):
            SceneStyle(**kwargs)


def test_separate_shapes_do_not_overlap_and_use_the_style_classes():
    from PIL import Image, ImageDraw

    style = SceneStyle(num_classes=2, max_objects=3, radius=(0.2, 0.3), overlap=False)
    rng = np.random.default_rng(0)
    counts = set()
    for _ in range(50):
        shapes = random_shapes(rng, 64, 80, style)
        counts.add(len(shapes))
        cover = np.zeros((64, 80), dtype=int)
        for category, outline in shapes:
            assert category in (0, 1)
            mask = Image.new("L", (80, 64), 0)
            ImageDraw.Draw(mask).polygon(outline, fill=1)
            cover += np.asarray(mask)
        assert cover.max() == 1, shapes
    assert counts <= {1, 2, 3} and len(counts) > 1


def test_synthetic_coco_categories_follow_the_style(tmp_path):
    pytest.importorskip("mmengine")
    from vmamba_zoo.mm.synthetic import synthetic_coco_classes

    root = make_synthetic_coco(tmp_path, num_train=3, num_val=2, size=(32, 32),
                               style=SceneStyle(num_classes=2, max_objects=1))
    assert synthetic_coco_classes(root) == ("square", "triangle")
    with open(os.path.join(root, "annotations", "instances_val.json")) as f:
        coco = json.load(f)
    assert {ann["category_id"] for ann in coco["annotations"]} <= {1, 2}


def test_summarise_metrics_shows_the_headline_numbers():
    pytest.importorskip("mmengine")
    from vmamba_zoo.mm.progress import summarise_metrics

    line = summarise_metrics({"coco/bbox_mAP": 0.5, "coco/bbox_mAP_50": 0.75, "coco/bbox_mAP_s": -1.0})
    assert line == "bbox_mAP_50 0.750  bbox_mAP 0.500"


def _run_detection_demo(out_dir, *args: str) -> tuple[str, dict]:
    result = subprocess.run(
        [sys.executable, os.path.join(REPO, "tools", "demo_detection.py"), "--out-dir", str(out_dir), *args],
        cwd=REPO, capture_output=True, text=True, timeout=1800,
    )
    console = result.stdout + result.stderr
    assert result.returncode == 0, console[-4000:]
    for picture in ("detections.png", "loss.png"):
        assert (out_dir / picture).stat().st_size > 10_000, picture
    with open(out_dir / "detection.json") as f:
        return console, json.load(f)


@pytest.mark.slow
def test_quick_detection_demo_writes_its_outputs_with_a_short_console(tmp_path):
    console, summary = _run_detection_demo(tmp_path, "--quick")
    lines = console.splitlines()
    assert len(lines) <= 12, console
    assert "paramwise_options" not in console and "Epoch(train)" not in console, console
    assert any(line.startswith("epoch 1/1  loss ") for line in lines), console
    log_line = next(line for line in lines if line.startswith("full MMEngine log: "))
    log_path = log_line.split(": ", 1)[1]
    with open(log_path if os.path.isabs(log_path) else os.path.join(REPO, log_path)) as f:
        log = f.read()
    assert "Epoch(train)" in log and "loading annotations into memory" in log  # the full log is kept
    assert len(summary["losses"]) == 2 and all(math.isfinite(v) for v in summary["losses"])
    assert [e["epoch"] for e in summary["evaluations"]] == [1]


@pytest.mark.slow
def test_default_detection_demo_learns(tmp_path):
    """The demo's promise: bbox mAP@0.5 >= 0.5 and segm mAP@0.5 >= 0.3 on the held-out split."""
    console, summary = _run_detection_demo(tmp_path)
    final = summary["final_metrics"]
    assert final["coco/bbox_mAP_50"] >= 0.5 and final["coco/segm_mAP_50"] >= 0.3, console
    assert summary["losses"][-1] < summary["losses"][0]


@pytest.mark.slow
def test_train_and_test_quiet_console(tmp_path):
    """``--quiet``: one line per epoch and the metrics on the console, the full log in the work dir."""
    pytest.importorskip("mmdet")
    from vmamba_zoo.mm.synthetic import synthetic_detection_config

    root = make_synthetic_coco(tmp_path / "coco", num_train=4, num_val=2, size=(64, 64))
    cfg = synthetic_detection_config(root, str(tmp_path / "work"), epochs=1, img_scale=(64, 64))
    config = tmp_path / "mask_rcnn.py"
    cfg.dump(str(config))

    def run(*args: str) -> list[str]:
        result = subprocess.run([sys.executable, *args, "--quiet"], cwd=REPO, capture_output=True,
                                text=True, timeout=900)
        console = result.stdout + result.stderr
        assert result.returncode == 0, console[-4000:]
        assert "paramwise_options" not in console and "Epoch(" not in console, console
        return console.splitlines()

    lines = run("tools/train.py", str(config))
    assert any(line.startswith("epoch 1/1  loss ") for line in lines), lines
    log = next(line for line in lines if line.startswith("full log: ")).split(": ", 1)[1]
    with open(log if os.path.isabs(log) else os.path.join(REPO, log)) as f:
        assert "paramwise_options" in f.read()  # MMEngine's INFO lines are kept, in the file
    lines = run("tools/test.py", str(config), str(tmp_path / "work" / "epoch_1.pth"),
                "--work-dir", str(tmp_path / "test"))
    assert any(line.startswith("coco/bbox_mAP: ") for line in lines), lines
    assert len(lines) <= 30, lines
