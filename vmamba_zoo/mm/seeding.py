"""Randomness that survives ``--resume``, for every toolbox (mmpretrain, mmdet, mmseg): the
generators are reseeded from (seed, epoch or iteration, rank), and dataloader workers from that,
so that a run resumed after an interruption (even a SIGKILL) continues exactly as the
uninterrupted run. Registered in MMEngine's root registries, which every toolbox's scope reads."""

from __future__ import annotations

import random

import numpy as np
import torch
from mmengine.dist import get_dist_info
from mmengine.hooks import Hook
from mmengine.registry import FUNCTIONS, HOOKS


def epoch_seed(seed: int, epoch: int, rank: int, world_size: int) -> int:
    """A distinct seed per (epoch or iteration, rank), as a 32-bit unsigned integer."""
    return (seed + epoch * world_size + rank) % 2**32


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's generators (torch's also seeds every CUDA device)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@HOOKS.register_module()
class EpochSeedHook(Hook):
    """Reseed Python's, NumPy's and torch's generators at the start of every training epoch from
    (runner seed, epoch, rank): for epoch-based loops (classification, detection).

    MMEngine seeds once per run and does not store generator states in checkpoints, so a resumed
    run draws different drop-path masks, Mixup/CutMix parameters, augmentations and RoI samples
    than the uninterrupted run would have. With this hook each epoch's randomness depends only on
    the seed and the epoch, and a resume (which restarts at an epoch boundary) repeats it exactly.
    Use it with a fixed ``randomness.seed`` (the sampler's shuffle seed is drawn once when the
    dataloader is built) and with ``worker_init_fn=dict(type='zoo_seed_worker')`` and
    ``persistent_workers=False`` when ``num_workers > 0``, so that worker processes are seeded
    from the reseeded generator every epoch.
    """

    priority = "VERY_HIGH"

    def before_train_epoch(self, runner) -> None:
        rank, world_size = get_dist_info()
        seed_everything(epoch_seed(runner.seed, runner.epoch, rank, world_size))


@HOOKS.register_module()
class IterSeedHook(Hook):
    """Reseed Python's, NumPy's and torch's generators before every training iteration from
    (runner seed, iteration, rank): for iteration-based loops (segmentation), which resume at
    any saved iteration.

    The model's randomness (dropout, drop-path) then depends only on the iteration. The data's
    lives in the dataloader workers (``num_workers >= 1``): they are seeded once per run, and on
    resume MMEngine replays the batches already trained through them, so they reach the resumed
    iteration in the state the uninterrupted run had. (With ``num_workers=0`` the augmentations
    draw from the main process' generators, between iterations, and a resume is not exact.)
    """

    priority = "VERY_HIGH"

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        rank, world_size = get_dist_info()
        seed_everything(epoch_seed(runner.seed, runner.iter, rank, world_size))


@FUNCTIONS.register_module(name="zoo_seed_worker")
def zoo_seed_worker(worker_id: int) -> None:
    """Seed a dataloader worker's Python and NumPy generators from its torch seed, which torch
    derives from the main process' generator when the epoch's iterator starts (so it follows
    ``EpochSeedHook``); MMEngine's default gives every worker the same seeds in every epoch."""
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)
