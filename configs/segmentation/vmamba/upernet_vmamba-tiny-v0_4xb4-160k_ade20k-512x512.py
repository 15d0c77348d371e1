# UperNet 160k, Vanilla-VMamba-T (v0) backbone, ADE20K 512x512.
# Upstream config: MzeroMiko/VMamba segmentation/configs/vssm/upernet_vssm_4xb4-160k_ade20k-512x512_tiny.py; numbers: MzeroMiko/VMamba assets/performance.md.
# Paper (ADE20K val): mIoU 47.3 single-scale, 48.3 multi-scale + flip (--tta);
# 55M params, 964G FLOPs at 512x2048 (whole segmentor).
# The authors' segmentor checkpoint loads with load_from: https://github.com/MzeroMiko/VMamba/releases/download/%23v0seg/vssmtiny_upernet_4xb4-160k_ade20k-512x512_iter_160000.pth
_base_ = './upernet_vmamba-tiny-s1l8_4xb4-160k_ade20k-512x512.py'
model = dict(
    backbone=dict(
        arch='vmamba_tiny_v0',
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint='https://github.com/MzeroMiko/VMamba/releases/download/%23v0cls/vssmtiny_dp01_ckpt_epoch_292.pth')),
    decode_head=dict(in_channels=[96, 192, 384, 768]),
    auxiliary_head=dict(in_channels=384))
