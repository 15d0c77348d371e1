# UperNet 160k, EfficientVMamba-T backbone, ADE20K 512x512.
# No published number for this size.
# The paper's (arXiv 2403.09977) UperNet configs are not released; this is the UperNet recipe of
# the other families (Swin's: AdamW lr 6e-5, wd 0.01, 160k iterations).
_base_ = '../_base_/upernet_zoo_160k_ade20k-512x512.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='EfficientVMamba',
        arch='efficientvmamba_tiny',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.2,
        init_cfg=dict(type='Pretrained', checkpoint='https://huggingface.co/TerryPei/EfficientVMamba-Tiny/resolve/main/efficient_vmamba_tiny.ckpt')),
    decode_head=dict(in_channels=[48, 96, 192, 384], num_classes=150),
    auxiliary_head=dict(in_channels=192, num_classes=150))
