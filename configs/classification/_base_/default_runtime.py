# Runtime shared by every classification config: mmpretrain's default runtime, plus
# - the zoo's mmpretrain integration (ZooClassifier and the hooks below),
# - EpochSeedHook: each epoch's randomness depends only on (seed, epoch, rank), so that
#   `tools/train.py CONFIG --resume` continues exactly as an uninterrupted run,
# - ReleasedCheckpointHook: `load_from` / `tools/test.py CONFIG CHECKPOINT` accept a checkpoint
#   exactly as its authors released it (read safely, loaded strictly),
# - EMAHook: timm ModelEma(decay=0.9999) as in every paper of the zoo (MMEngine's momentum is
#   1 - decay; buffers are averaged too, as timm's ModelEma does). Checkpoints then hold the EMA
#   weights under `state_dict` (the original weights under `ema_state_dict`), and validation
#   evaluates the EMA weights.
# (Written out rather than inherited from 'mmpretrain::_base_/default_runtime.py': MMEngine's
# package-scoped inheritance needs pkg_resources, which recent setuptools no longer ship.)
default_scope = 'mmpretrain'
custom_imports = dict(imports=['vmamba_zoo.mm.pretrain'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=100),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3, save_best='auto'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='VisualizationHook', enable=False),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)

log_level = 'INFO'
load_from = None
resume = False

custom_hooks = [
    dict(type='EpochSeedHook'),
    dict(type='ReleasedCheckpointHook'),
    dict(type='EMAHook', momentum=1e-4, update_buffers=True, priority='ABOVE_NORMAL'),
]

# A fixed seed: the data sampler's shuffle seed is drawn from it when the dataloader is built,
# before a resumed run could restore anything. VMamba's and the Swin code's default SEED is 0.
randomness = dict(seed=0, deterministic=False)
