# Mask R-CNN 1x, GroupMamba-T backbone, COCO.
# Paper (COCO val2017): box AP 47.6, mask AP 42.9.
# Amshaker/GroupMamba releases no detection or segmentation code or checkpoints: features are the
# model's own norm1..norm4 outputs, channels [64, 128, 348, 448], recipe as VMamba's. The numbers
# above are the GroupMamba paper's (arXiv 2407.13772) as quoted by a secondary summary, not
# checked against the paper's tables.
_base_ = '../_base_/mask-rcnn_zoo_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        type='GroupMamba',
        arch='groupmamba_tiny',
        drop_path_rate=0.2,
        init_cfg=dict(type='Pretrained', checkpoint='https://huggingface.co/Abdelrahman-shaker/GroupMamba-Tiny/resolve/main/groupmamba_tiny_ema.pth')),
    neck=dict(in_channels=[64, 128, 348, 448]))
