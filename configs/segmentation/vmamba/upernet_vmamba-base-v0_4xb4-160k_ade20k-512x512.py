# UperNet 160k, Vanilla-VMamba-B (v0) backbone, ADE20K 512x512.
# Upstream config: MzeroMiko/VMamba segmentation/configs/vssm/upernet_vssm_4xb4-160k_ade20k-512x512_base.py; numbers: MzeroMiko/VMamba assets/performance.md.
# Paper (ADE20K val): mIoU 50.0 single-scale, 51.3 multi-scale + flip (--tta);
# 110M params, 1226G FLOPs at 512x2048 (whole segmentor).
# The authors' segmentor checkpoint loads with load_from: https://github.com/MzeroMiko/VMamba/releases/download/%23v0seg/vssmbase_upernet_4xb4-160k_ade20k-512x512_iter_128000.pth
_base_ = './upernet_vmamba-tiny-s1l8_4xb4-160k_ade20k-512x512.py'
model = dict(
    backbone=dict(
        arch='vmamba_base_v0',
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint='https://github.com/MzeroMiko/VMamba/releases/download/%23v0cls/vssmbase_dp06_ckpt_epoch_241.pth')),
    decode_head=dict(in_channels=[128, 256, 512, 1024]),
    auxiliary_head=dict(in_channels=512))
