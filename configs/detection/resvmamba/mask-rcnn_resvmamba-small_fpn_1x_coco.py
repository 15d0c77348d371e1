# Mask R-CNN 1x, Res-VMamba-S backbone, COCO.
# No published numbers.
# Res-VMamba (ChiShengChen/ResVMamba) publishes no detection/segmentation configs or results; this
# applies VMamba's recipe to the CNFOOD-241 classifier's backbone (fixed residual projections).
_base_ = '../_base_/mask-rcnn_zoo_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        type='ResVMamba',
        arch='resvmamba_small',
        drop_path_rate=0.3,
        init_cfg=dict(type='Pretrained', checkpoint='https://huggingface.co/ms57rd/Res-VMamba/resolve/main/ckpt_epoch_166.pth')),
    neck=dict(in_channels=[96, 192, 384, 768]))
