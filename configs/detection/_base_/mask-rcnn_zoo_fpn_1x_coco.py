# Mask R-CNN 1x on COCO with a vmamba_zoo backbone: the recipe the original repos share (Swin-T's).
# A family's config inherits this file and sets model.backbone (type, arch, drop_path_rate,
# init_cfg) and model.neck.in_channels.
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
]
custom_imports = dict(imports=['vmamba_zoo.mm'], allow_failed_imports=False)

# replaces mmdet's ResNet-50 settings; the four stage outputs feed the FPN
model = dict(backbone=dict(_delete_=True, out_indices=(0, 1, 2, 3)))

# AdamW, no weight decay on norms, 1000-iteration warm-up, 12 epochs with steps at 8 and 11,
# 2 images per GPU on 8 GPUs (16 per step).
optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={'norm': dict(decay_mult=0.)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[8, 11], gamma=0.1),
]

# `tools/train.py CONFIG --resume` continues exactly as the uninterrupted run: each epoch's
# randomness (flips, RoI sampling) depends only on (seed, epoch) (EpochSeedHook, from
# vmamba_zoo.mm), workers are re-created and re-seeded from it every epoch, and the seed is fixed
# (the sampler's shuffle seed is drawn from it when the dataloader is built).
custom_hooks = [dict(type='EpochSeedHook')]
train_dataloader = dict(persistent_workers=False, worker_init_fn=dict(type='zoo_seed_worker'))
randomness = dict(seed=0)
