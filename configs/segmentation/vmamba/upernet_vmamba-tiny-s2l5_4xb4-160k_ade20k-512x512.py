# UperNet 160k, VMamba-T (s2l5) backbone, ADE20K 512x512.
# Upstream config: MzeroMiko/VMamba segmentation/configs/vssm1/upernet_vssm_4xb4-160k_ade20k-512x512_tiny1.py; numbers: MzeroMiko/VMamba assets/performance.md.
# Paper (ADE20K val): mIoU 48.3 single-scale, 48.6 multi-scale + flip (--tta);
# 62M params, 948G FLOPs at 512x2048 (whole segmentor).
# The authors' segmentor checkpoint loads with load_from: https://github.com/MzeroMiko/VMamba/releases/download/%23v2seg/upernet_vssm_4xb4-160k_ade20k-512x512_tiny_iter_160000.pth
_base_ = './upernet_vmamba-tiny-s1l8_4xb4-160k_ade20k-512x512.py'
model = dict(
    backbone=dict(
        arch='vmamba_tiny_s2l5',
        drop_path_rate=0.2,
        init_cfg=dict(checkpoint='https://github.com/MzeroMiko/VMamba/releases/download/%23v2cls/vssm_tiny_0230_ckpt_epoch_262.pth')),
    decode_head=dict(in_channels=[96, 192, 384, 768]),
    auxiliary_head=dict(in_channels=384))
