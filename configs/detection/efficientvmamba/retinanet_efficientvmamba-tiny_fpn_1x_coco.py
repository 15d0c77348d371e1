# RetinaNet 1x, EfficientVMamba-T backbone, COCO.
# Paper (COCO val2017, RetinaNet 1x): box AP 37.5; 13M params.
# The paper's (arXiv 2403.09977) RetinaNet configs are not released; this follows the Mask R-CNN
# recipe of TerryPei/EfficientVMamba detection/configs/efficient/ (Swin-T's: AdamW lr 1e-4,
# wd 0.05, no decay on norms).
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    'mmdet::_base_/datasets/coco_detection.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
]
custom_imports = dict(imports=['vmamba_zoo.mm'], allow_failed_imports=False)

# only the stages FPN uses (an unused stage-0 norm would upset DDP)
model = dict(
    backbone=dict(
        _delete_=True,
        type='EfficientVMamba',
        arch='efficientvmamba_tiny',
        out_indices=(1, 2, 3),
        drop_path_rate=0.2,
        init_cfg=dict(type='Pretrained', checkpoint='https://huggingface.co/TerryPei/EfficientVMamba-Tiny/resolve/main/efficient_vmamba_tiny.ckpt')),
    neck=dict(in_channels=[96, 192, 384], start_level=0, num_outs=5))

# The originals' recipe (Swin-T's): AdamW, no weight decay on norms, 1000-iteration warm-up,
# 12 epochs with steps at 8 and 11, 2 images per GPU on 8 GPUs (16 per step).
optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={'norm': dict(decay_mult=0.)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=12, by_epoch=True, milestones=[8, 11], gamma=0.1),
]
