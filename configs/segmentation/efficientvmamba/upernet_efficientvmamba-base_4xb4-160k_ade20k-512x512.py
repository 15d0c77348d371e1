# UperNet 160k, EfficientVMamba-B backbone, ADE20K 512x512.
# Paper (ADE20K val): mIoU 46.5 (single-scale).
# The paper's (arXiv 2403.09977) UperNet configs are not released; this is the UperNet recipe of
# the other families (Swin's: AdamW lr 6e-5, wd 0.01, 160k iterations).
_base_ = './upernet_efficientvmamba-tiny_4xb4-160k_ade20k-512x512.py'
model = dict(
    backbone=dict(
        arch='efficientvmamba_base',
        drop_path_rate=0.2,
        init_cfg=dict(checkpoint='https://huggingface.co/TerryPei/EfficientVMamba-Base/resolve/main/efficient_vmamba_base.ckpt')),
    decode_head=dict(in_channels=[96, 192, 384, 768]),
    auxiliary_head=dict(in_channels=384))
