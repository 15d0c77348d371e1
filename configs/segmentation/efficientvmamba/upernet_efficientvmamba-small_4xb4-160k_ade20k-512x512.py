# UperNet 160k, EfficientVMamba-S backbone, ADE20K 512x512.
# No published number for this size.
# The paper's (arXiv 2403.09977) UperNet configs are not released; this is the UperNet recipe of
# the other families (Swin's: AdamW lr 6e-5, wd 0.01, 160k iterations).
_base_ = './upernet_efficientvmamba-tiny_4xb4-160k_ade20k-512x512.py'
model = dict(
    backbone=dict(
        arch='efficientvmamba_small',
        drop_path_rate=0.2,
        init_cfg=dict(checkpoint='https://huggingface.co/TerryPei/EfficientVMamba-Small/resolve/main/efficient_vmamba_small.ckpt')),
    decode_head=dict(in_channels=[64, 128, 256, 512]),
    auxiliary_head=dict(in_channels=256))
