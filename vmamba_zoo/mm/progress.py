"""A readable console for MMEngine runs: :class:`ProgressHook` prints one line per training epoch
(or per validation interval of an iteration-based loop) with the mean loss, the time and the
validation metrics, and keeps the per-iteration losses and per-validation metrics it saw (the
demo plots them). :func:`vmamba_zoo.mm.runner.build_runner` registers it when ``quiet``."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from mmengine.hooks import Hook

__all__ = ["ProgressHook", "summarise_metrics"]

# metric keys shown on the console, shortest first; any other key stays in the log file only
_SHOWN_METRICS = ("bbox_mAP_50", "segm_mAP_50", "bbox_mAP", "segm_mAP", "mIoU", "accuracy/top1")


def summarise_metrics(metrics: dict[str, float]) -> str:
    """``bbox_mAP_50 0.873  segm_mAP_50 0.801 ...`` for the metrics a person looks at first."""
    parts = []
    for name in _SHOWN_METRICS:
        for key, value in metrics.items():
            if key == name or key.endswith("/" + name):
                parts.append(f"{name} {value:.3f}")
    return "  ".join(parts)


class ProgressHook(Hook):
    """One console line per epoch (``EpochBasedTrainLoop``) or per ``val_interval`` iterations
    (``IterBasedTrainLoop``): ``epoch 3/8  loss 0.652  12.3 s  bbox_mAP_50 1.000 ...``.

    After the run, ``losses`` holds the loss of every training iteration and ``evaluations``
    one ``(epoch or iteration, metrics)`` pair per validation.
    """

    priority = "VERY_LOW"  # after the logger and the checkpoint hooks

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout  # resolved now: quiet runs redirect stdout while running
        self.losses: list[float] = []
        self.evaluations: list[tuple[int, dict[str, float]]] = []
        self._pending: str | None = None
        self._window: list[float] = []
        self._start = self._val_start = time.perf_counter()
        self._done = 0  # epochs or iterations trained so far

    def _print(self, line: str) -> None:
        print(line, file=self.stream, flush=True)

    def _by_epoch(self, runner) -> bool:
        return hasattr(runner.train_loop, "max_epochs")

    def before_train(self, runner) -> None:
        self._start = time.perf_counter()

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if outputs and "loss" in outputs:
            loss = float(outputs["loss"].detach())
            self.losses.append(loss)
            self._window.append(loss)
        if not self._by_epoch(runner):
            done, total = runner.iter + 1, runner.max_iters
            interval = runner.train_loop.val_interval if runner.val_loop is not None else total
            if done == total or done % interval == 0:
                self._finish_period(runner, f"iter {done}/{total}", done)

    def after_train_epoch(self, runner) -> None:
        if self._by_epoch(runner):
            done = runner.epoch + 1
            self._finish_period(runner, f"epoch {done}/{runner.max_epochs}", done)

    def _finish_period(self, runner, label: str, done: int) -> None:
        """Print the period's line now, or keep it for the validation that follows it (the train
        loops validate after ``done`` epochs / iterations on the same condition)."""
        loss = sum(self._window) / len(self._window) if self._window else float("nan")
        line = f"{label}  loss {loss:.3f}  {time.perf_counter() - self._start:.1f} s"
        self._window, self._start, self._done = [], time.perf_counter(), done
        loop = runner.train_loop
        total = loop.max_epochs if self._by_epoch(runner) else loop.max_iters
        validates = runner.val_loop is not None and done >= loop.val_begin and (
            done % loop.val_interval == 0 or done == total)
        if validates:
            self._pending = line
        else:
            self._print(line)

    def before_val_epoch(self, runner) -> None:
        self._val_start = time.perf_counter()

    def after_val_epoch(self, runner, metrics: dict[str, float] | None = None) -> None:
        metrics = dict(metrics or {})
        self.evaluations.append((self._done, metrics))
        seconds = time.perf_counter() - self._val_start
        summary = f"val {seconds:.1f} s  {summarise_metrics(metrics) or 'no metrics'}"
        if self._pending is not None:
            self._print(f"{self._pending}  |  {summary}")
            self._pending, self._start = None, time.perf_counter()
        else:
            self._print(summary)
