# Mask R-CNN 1x, EfficientVMamba-S backbone, COCO (efficientvmamba.md §7).
# No published numbers (the repo ships Mask R-CNN configs without results).
# The paper's downstream configs are not released (efficientvmamba.md §7, §11); this follows the repo's
# Mask R-CNN recipe (AdamW lr 1e-4, wd 0.05, no decay on norms).
_base_ = './mask-rcnn_efficientvmamba-tiny_fpn_1x_coco.py'
model = dict(
    backbone=dict(
        arch='efficientvmamba_small',
        drop_path_rate=0.2,
        init_cfg=dict(checkpoint='https://huggingface.co/TerryPei/EfficientVMamba-Small/resolve/main/efficient_vmamba_small.ckpt')),
    neck=dict(in_channels=[64, 128, 256, 512]))
