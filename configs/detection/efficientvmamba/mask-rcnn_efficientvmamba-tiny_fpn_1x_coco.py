# Mask R-CNN 1x, EfficientVMamba-T backbone, COCO.
# No published numbers: TerryPei/EfficientVMamba ships Mask R-CNN configs
# (detection/configs/efficient/) without results; this follows their recipe (Swin-T's: AdamW
# lr 1e-4, wd 0.05, no decay on norms).
_base_ = '../_base_/mask-rcnn_zoo_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        type='EfficientVMamba',
        arch='efficientvmamba_tiny',
        drop_path_rate=0.2,
        init_cfg=dict(type='Pretrained', checkpoint='https://huggingface.co/TerryPei/EfficientVMamba-Tiny/resolve/main/efficient_vmamba_tiny.ckpt')),
    neck=dict(in_channels=[48, 96, 192, 384]))
