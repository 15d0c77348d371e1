# UperNet 160k, GroupMamba-T backbone, ADE20K 512x512.
# Paper (ADE20K val): mIoU 48.6 single-scale, 49.2 multi-scale + flip (--tta).
# Amshaker/GroupMamba releases no detection or segmentation code or checkpoints: features are the
# model's own norm1..norm4 outputs, channels [64, 128, 348, 448], recipe as VMamba's. The numbers
# above are the GroupMamba paper's (arXiv 2407.13772) as quoted by a secondary summary, not
# checked against the paper's tables.
_base_ = '../_base_/upernet_zoo_160k_ade20k-512x512.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='GroupMamba',
        arch='groupmamba_tiny',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.2,
        init_cfg=dict(type='Pretrained', checkpoint='https://huggingface.co/Abdelrahman-shaker/GroupMamba-Tiny/resolve/main/groupmamba_tiny_ema.pth')),
    decode_head=dict(in_channels=[64, 128, 348, 448], num_classes=150),
    auxiliary_head=dict(in_channels=348, num_classes=150))
