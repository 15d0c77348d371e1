# Mask R-CNN 1x, GroupMamba-T backbone, COCO (groupmamba.md §6).
# Paper (COCO val2017): box AP 47.6, mask AP 42.9.
# No official downstream code or checkpoints exist (groupmamba.md §6): features are the model's own
# norm1..norm4 outputs, channels [64, 128, 348, 448], recipe as VMamba's. Paper numbers come from a
# secondary summary of the paper (unverified).
_base_ = '../_base_/mask-rcnn_zoo_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        type='GroupMamba',
        arch='groupmamba_tiny',
        drop_path_rate=0.2,
        init_cfg=dict(type='Pretrained', checkpoint='https://huggingface.co/Abdelrahman-shaker/GroupMamba-Tiny/resolve/main/groupmamba_tiny_ema.pth')),
    neck=dict(in_channels=[64, 128, 348, 448]))
