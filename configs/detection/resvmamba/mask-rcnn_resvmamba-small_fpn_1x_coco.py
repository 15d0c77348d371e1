# Mask R-CNN 1x, Res-VMamba-S backbone, COCO (resvmamba.md §8).
# No published numbers.
# Res-VMamba publishes no detection/segmentation results (resvmamba.md §8); this applies VMamba's recipe
# to the CNFOOD-241 classifier's backbone (fixed residual projections).
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
]
custom_imports = dict(imports=['vmamba_zoo.mm'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='ResVMamba',
        arch='resvmamba_small',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.3,
        init_cfg=dict(type='Pretrained', checkpoint='https://huggingface.co/ms57rd/Res-VMamba/resolve/main/ckpt_epoch_166.pth')),
    neck=dict(in_channels=[96, 192, 384, 768]))

# The originals' recipe (Swin-T's): AdamW, no weight decay on norms, 1000-iteration warm-up,
# 12 epochs with steps at 8 and 11, 2 images per GPU on 8 GPUs (16 per step).
optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={'norm': dict(decay_mult=0.)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[8, 11], gamma=0.1),
]
