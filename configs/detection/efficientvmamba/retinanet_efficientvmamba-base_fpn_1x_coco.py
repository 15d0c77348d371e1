# RetinaNet 1x, EfficientVMamba-B backbone, COCO.
# Paper (COCO val2017, RetinaNet 1x): box AP 42.8 (PVTv1-Medium 41.9 + 0.9); 44M params.
# The paper's (arXiv 2403.09977) RetinaNet configs are not released; this follows the Mask R-CNN
# recipe of TerryPei/EfficientVMamba detection/configs/efficient/ (Swin-T's: AdamW lr 1e-4,
# wd 0.05, no decay on norms).
_base_ = './retinanet_efficientvmamba-tiny_fpn_1x_coco.py'
model = dict(
    backbone=dict(
        arch='efficientvmamba_base',
        drop_path_rate=0.2,
        init_cfg=dict(checkpoint='https://huggingface.co/TerryPei/EfficientVMamba-Base/resolve/main/efficient_vmamba_base.ckpt')),
    neck=dict(in_channels=[192, 384, 768]))
