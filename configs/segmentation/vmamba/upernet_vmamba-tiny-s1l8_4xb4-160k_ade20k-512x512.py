# UperNet 160k, VMamba-T (s1l8, the paper's final T) backbone, ADE20K 512x512.
# Upstream config: MzeroMiko/VMamba segmentation/configs/vssm1/upernet_vssm_4xb4-160k_ade20k-512x512_tiny.py; numbers: MzeroMiko/VMamba assets/performance.md.
# Paper (ADE20K val): mIoU 47.9 single-scale, 48.8 multi-scale + flip (--tta);
# 62M params, 949G FLOPs at 512x2048 (whole segmentor).
# The authors' segmentor checkpoint loads with load_from: https://github.com/MzeroMiko/VMamba/releases/download/%23v2seg/upernet_vssm_4xb4-160k_ade20k-512x512_tiny_s_iter_160000.pth
_base_ = '../_base_/upernet_zoo_160k_ade20k-512x512.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='VMamba',
        arch='vmamba_tiny_s1l8',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.2,
        init_cfg=dict(type='Pretrained', checkpoint='https://github.com/MzeroMiko/VMamba/releases/download/%23v2cls/vssm1_tiny_0230s_ckpt_epoch_264.pth')),
    decode_head=dict(in_channels=[96, 192, 384, 768], num_classes=150),
    auxiliary_head=dict(in_channels=384, num_classes=150))
