# RetinaNet 1x, EfficientVMamba-S backbone, COCO.
# No published number for this size.
# The paper's (arXiv 2403.09977) RetinaNet configs are not released; this follows the Mask R-CNN
# recipe of TerryPei/EfficientVMamba detection/configs/efficient/ (Swin-T's: AdamW lr 1e-4,
# wd 0.05, no decay on norms).
_base_ = './retinanet_efficientvmamba-tiny_fpn_1x_coco.py'
model = dict(
    backbone=dict(
        arch='efficientvmamba_small',
        drop_path_rate=0.2,
        init_cfg=dict(checkpoint='https://huggingface.co/TerryPei/EfficientVMamba-Small/resolve/main/efficient_vmamba_small.ckpt')),
    neck=dict(in_channels=[128, 256, 512]))
