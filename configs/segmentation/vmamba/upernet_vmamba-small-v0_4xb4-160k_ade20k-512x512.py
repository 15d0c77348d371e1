# UperNet 160k, Vanilla-VMamba-S (v0) backbone, ADE20K 512x512.
# Upstream config: MzeroMiko/VMamba segmentation/configs/vssm/upernet_vssm_4xb4-160k_ade20k-512x512_small.py; numbers: MzeroMiko/VMamba assets/performance.md.
# Paper (ADE20K val): mIoU 49.5 single-scale, 50.5 multi-scale + flip (--tta);
# 76M params, 1081G FLOPs at 512x2048 (whole segmentor).
# The authors' segmentor checkpoint loads with load_from: https://github.com/MzeroMiko/VMamba/releases/download/%23v0seg/vssmsmall_upernet_4xb4-160k_ade20k-512x512_iter_160000.pth
_base_ = './upernet_vmamba-tiny-s1l8_4xb4-160k_ade20k-512x512.py'
model = dict(
    backbone=dict(
        arch='vmamba_small_v0',
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint='https://github.com/MzeroMiko/VMamba/releases/download/%23v0cls/vssmsmall_dp03_ckpt_epoch_238.pth')),
    decode_head=dict(in_channels=[96, 192, 384, 768]),
    auxiliary_head=dict(in_channels=384))
