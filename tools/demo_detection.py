"""The detection part of ``make demo``: write a synthetic COCO set of large, high-contrast shapes
of two classes, train the repository's VMamba Mask R-CNN config on it (backbone shrunk, heads
narrowed, 64x64 images) with MMEngine's Runner as ``tools/train.py --quiet`` does, and show that
it learned: one console line per epoch with the loss and the validation mAP, then

    OUT_DIR/detections.png   held-out images: ground truth above, predictions (score >= 0.5) below
    OUT_DIR/loss.png         the loss of every iteration and the mAP of every epoch
    OUT_DIR/detection.json   the settings, the history and the final metrics
    OUT_DIR/detection/       MMEngine's work dir: the full log, the config, the checkpoint, the data

    python tools/demo_detection.py [--out-dir work_dirs/demo] [--seed 0] [--quick]
"""

from __future__ import annotations

import time

START = time.perf_counter()  # the detection part's time includes its imports

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402

# mmengine imports pkg_resources, which warns on every start; nothing for a demo's reader to act on
warnings.filterwarnings("ignore", message="pkg_resources is deprecated")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)  # run from a clone

from vmamba_zoo.data import SceneStyle, make_synthetic_coco  # noqa: E402
from vmamba_zoo.mm.progress import ProgressHook  # noqa: E402
from vmamba_zoo.mm.runner import build_runner, runner_log_file  # noqa: E402
from vmamba_zoo.mm.synthetic import synthetic_detection_config  # noqa: E402

# Few, large, separate shapes of two classes: a task a detector trained from scratch on two CPU
# cores solves within the demo's few minutes.
STYLE = SceneStyle(num_classes=2, max_objects=2, radius=(0.2, 0.35), overlap=False)
SIZE = 64
BACKBONE = dict(depths=(1, 1, 2, 1), dims=24)
SCORE_THRESHOLD = 0.5  # predictions drawn in detections.png
OVERLAY_COLOURS = ("yellow", "cyan", "magenta")  # by class; the shapes themselves are red/green/blue


def shown(path: str) -> str:
    """``path`` relative to the current directory when it lies below it."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-dir", default=os.path.join(REPO, "work_dirs", "demo"))
    parser.add_argument("--seed", type=int, default=0, help="seeds the data and the training")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--train-images", type=int, default=48)
    parser.add_argument("--val-images", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (on these small tensors a second thread mostly waits; "
                             "see the README's demo section)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1 epoch on 8 images (checks the path, learns little)")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.train_images, args.val_images = 1, 8, 4
    for name in ("epochs", "train_images", "val_images", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    return args


def predict(runner, count: int) -> list[tuple[str, dict]]:
    """(image path, predicted instances as numpy arrays) for the first ``count`` val images."""
    import torch
    from mmengine.dataset import pseudo_collate

    dataset = runner.val_dataloader.dataset
    model = runner.model
    model.eval()
    results = []
    with torch.no_grad():
        for index in range(min(count, len(dataset))):
            sample = model.test_step(pseudo_collate([dataset[index]]))[0]
            instances = {key: value.cpu().numpy() for key, value in sample.pred_instances.items()}
            results.append((sample.img_path, instances))
    return results


def draw_detections(predictions: list[tuple[str, dict]], ann_file: str, classes: tuple[str, ...],
                    path: str) -> None:
    """Ground truth (top row) and predictions above :data:`SCORE_THRESHOLD` (bottom row)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.colors import to_rgba
    from matplotlib.patches import Polygon, Rectangle
    from PIL import Image

    with open(ann_file) as f:
        coco = json.load(f)
    ids = {image["file_name"]: image["id"] for image in coco["images"]}
    columns = len(predictions)
    figure, axes = plt.subplots(2, columns, figsize=(2.2 * columns, 4.8), squeeze=False)
    for column, (image_path, instances) in enumerate(predictions):
        image = np.asarray(Image.open(image_path).convert("RGB"))
        image_id = ids[os.path.basename(image_path)]
        top, bottom = axes[0][column], axes[1][column]
        for axis in (top, bottom):
            axis.imshow(image, interpolation="nearest")
            axis.set_axis_off()
        for ann in coco["annotations"]:
            if ann["image_id"] != image_id:
                continue
            colour = OVERLAY_COLOURS[ann["category_id"] - 1]
            outline = np.array(ann["segmentation"][0]).reshape(-1, 2)
            top.add_patch(Polygon(outline, closed=True, facecolor=to_rgba(colour, 0.45), edgecolor="none"))
            x, y, w, h = ann["bbox"]
            top.add_patch(Rectangle((x, y), w, h, fill=False, edgecolor=colour, linewidth=1.5))
            top.text(x, y - 1, classes[ann["category_id"] - 1], color=colour, fontsize=7, va="bottom")
        keep = instances["scores"] >= SCORE_THRESHOLD
        for box, score, label, mask in zip(instances["bboxes"][keep], instances["scores"][keep],
                                           instances["labels"][keep], instances["masks"][keep]):
            colour = OVERLAY_COLOURS[int(label)]
            overlay = np.zeros((*mask.shape, 4))
            overlay[mask.astype(bool)] = to_rgba(colour, 0.45)
            bottom.imshow(overlay, interpolation="nearest")
            x0, y0, x1, y1 = box
            bottom.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor=colour, linewidth=1.5))
            bottom.text(x0, y0 - 1, f"{classes[int(label)]} {score:.2f}", color=colour, fontsize=7, va="bottom")
    axes[0][0].set_title("ground truth", loc="left", fontsize=9)
    axes[1][0].set_title(f"predicted (score >= {SCORE_THRESHOLD})", loc="left", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def draw_history(progress: ProgressHook, iterations_per_epoch: int, path: str) -> None:
    """Loss per iteration (left) and validation mAP per epoch (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    figure, (loss_axis, map_axis) = plt.subplots(1, 2, figsize=(10, 3.8))
    losses = np.array(progress.losses)
    steps = np.arange(1, len(losses) + 1)
    loss_axis.plot(steps, losses, color="tab:blue", alpha=0.35, linewidth=1, label="per iteration")
    if len(losses) >= iterations_per_epoch:
        window = np.ones(iterations_per_epoch) / iterations_per_epoch
        loss_axis.plot(steps[iterations_per_epoch - 1:], np.convolve(losses, window, mode="valid"),
                       color="tab:blue", linewidth=2, label="mean over one epoch")
    loss_axis.set(xlabel="iteration", ylabel="total loss", yscale="log", title="training loss")
    loss_axis.legend(fontsize=8)
    epochs = [epoch for epoch, _ in progress.evaluations]
    for task, colour, marker in (("bbox", "tab:blue", "o"), ("segm", "tab:orange", "s")):
        for suffix, label, line in (("_50", "@0.5", "-"), ("", "@[.5:.95]", "--")):
            values = [metrics.get(f"coco/{task}_mAP{suffix}", 0.0) for _, metrics in progress.evaluations]
            map_axis.plot(epochs, values, line, marker=marker, color=colour, label=f"{task} mAP{label}")
    map_axis.set(xlabel="epoch", ylabel="mAP", ylim=(0, 1.02), title="held-out synthetic split")
    map_axis.set_xticks(epochs)
    map_axis.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    import torch

    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    work_dir = os.path.join(args.out_dir, "detection")
    data_root = make_synthetic_coco(
        os.path.join(work_dir, "data"), num_train=args.train_images, num_val=args.val_images,
        size=(SIZE, SIZE), seed=args.seed, style=STYLE,
    )
    cfg = synthetic_detection_config(
        data_root, work_dir, epochs=args.epochs, batch_size=4, img_scale=(SIZE, SIZE), lr=1e-3,
        val_interval=1, warmup_iters=10, seed=args.seed, **BACKBONE,
    )
    cfg.default_hooks.checkpoint = dict(type="CheckpointHook", interval=args.epochs, by_epoch=True)
    classes = STYLE.classes
    print(f"data: {args.train_images} train / {args.val_images} held-out {SIZE}x{SIZE} images, "
          f"classes {', '.join(classes)} (seed {args.seed}), in {shown(data_root)}", flush=True)
    print(f"model: {os.path.relpath(cfg.filename, REPO)} with its VMamba backbone shrunk "
          f"(depths {BACKBONE['depths']}, width {BACKBONE['dims']}) and {cfg.model.neck.out_channels}-channel "
          f"FPN and heads, trained from scratch for {args.epochs} epochs", flush=True)
    runner = build_runner(cfg, quiet=True)
    print(f"full MMEngine log: {shown(runner_log_file(runner))}", flush=True)
    progress = next(hook for hook in runner.hooks if isinstance(hook, ProgressHook))
    runner.train()
    trained = time.perf_counter() - START

    os.makedirs(args.out_dir, exist_ok=True)
    ann_file = os.path.join(data_root, "annotations", "instances_val.json")
    detections_png = os.path.join(args.out_dir, "detections.png")
    loss_png = os.path.join(args.out_dir, "loss.png")
    draw_detections(predict(runner, 6), ann_file, classes, detections_png)
    draw_history(progress, -(-args.train_images // cfg.train_dataloader.batch_size), loss_png)
    final = progress.evaluations[-1][1] if progress.evaluations else {}
    seconds = time.perf_counter() - START
    summary = dict(
        seed=args.seed, epochs=args.epochs, train_images=args.train_images, val_images=args.val_images,
        image_size=SIZE, threads=args.threads, seconds=round(seconds, 1), seconds_until_trained=round(trained, 1),
        final_metrics=final, losses=progress.losses,
        evaluations=[dict(epoch=epoch, **metrics) for epoch, metrics in progress.evaluations],
    )
    json_path = os.path.join(args.out_dir, "detection.json")
    with open(json_path, "w") as f:
        json.dump(summary, f, indent=1)

    print(f"held-out split after {args.epochs} epochs: "
          f"bbox mAP@0.5 {final.get('coco/bbox_mAP_50', 0.0):.3f} (mAP {final.get('coco/bbox_mAP', 0.0):.3f}), "
          f"segm mAP@0.5 {final.get('coco/segm_mAP_50', 0.0):.3f} (mAP {final.get('coco/segm_mAP', 0.0):.3f})",
          flush=True)
    print(f"detection part: {seconds:.0f} s; wrote {shown(detections_png)}, "
          f"{shown(loss_png)}, {shown(json_path)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
