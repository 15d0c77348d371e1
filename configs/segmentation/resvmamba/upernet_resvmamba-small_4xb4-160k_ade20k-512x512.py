# UperNet 160k, Res-VMamba-S backbone, ADE20K 512x512.
# No published numbers.
# Res-VMamba (ChiShengChen/ResVMamba) publishes no detection/segmentation configs or results; this
# applies VMamba's recipe to the CNFOOD-241 classifier's backbone (fixed residual projections).
_base_ = '../_base_/upernet_zoo_160k_ade20k-512x512.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='ResVMamba',
        arch='resvmamba_small',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.3,
        init_cfg=dict(type='Pretrained', checkpoint='https://huggingface.co/ms57rd/Res-VMamba/resolve/main/ckpt_epoch_166.pth')),
    decode_head=dict(in_channels=[96, 192, 384, 768], num_classes=150),
    auxiliary_head=dict(in_channels=384, num_classes=150))
