# Mask R-CNN 1x, EfficientVMamba-S backbone, COCO.
# No published numbers: TerryPei/EfficientVMamba ships Mask R-CNN configs
# (detection/configs/efficient/) without results; this follows their recipe (Swin-T's: AdamW
# lr 1e-4, wd 0.05, no decay on norms).
_base_ = './mask-rcnn_efficientvmamba-tiny_fpn_1x_coco.py'
model = dict(
    backbone=dict(
        arch='efficientvmamba_small',
        drop_path_rate=0.2,
        init_cfg=dict(checkpoint='https://huggingface.co/TerryPei/EfficientVMamba-Small/resolve/main/efficient_vmamba_small.ckpt')),
    neck=dict(in_channels=[64, 128, 256, 512]))
