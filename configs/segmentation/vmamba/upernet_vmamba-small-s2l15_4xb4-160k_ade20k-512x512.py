# UperNet 160k, VMamba-S (s2l15, the paper's final S) backbone, ADE20K 512x512.
# Upstream config: MzeroMiko/VMamba segmentation/configs/vssm1/upernet_vssm_4xb4-160k_ade20k-512x512_small.py; numbers: MzeroMiko/VMamba assets/performance.md.
# Paper (ADE20K val): mIoU 50.6 single-scale, 51.2 multi-scale + flip (--tta);
# 82M params, 1028G FLOPs at 512x2048 (whole segmentor).
# The authors' segmentor checkpoint loads with load_from: https://github.com/MzeroMiko/VMamba/releases/download/%23v2seg/upernet_vssm_4xb4-160k_ade20k-512x512_small_iter_144000.pth
_base_ = './upernet_vmamba-tiny-s1l8_4xb4-160k_ade20k-512x512.py'
model = dict(
    backbone=dict(
        arch='vmamba_small_s2l15',
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint='https://github.com/MzeroMiko/VMamba/releases/download/%23v2cls/vssm_small_0229_ckpt_epoch_222.pth')),
    decode_head=dict(in_channels=[96, 192, 384, 768]),
    auxiliary_head=dict(in_channels=384))
