# UperNet 160k, Spatial-Mamba-B backbone, ADE20K 512x512.
# Upstream config: EdwardChasel/Spatial-Mamba segmentation/configs/spatialmamba/upernet_spatialmamba_4xb4-160k_ade20k-512x512_base.py; numbers: the Spatial-Mamba README.
# Paper (ADE20K val): mIoU 51.8 single-scale, 52.6 multi-scale + flip (--tta);
# 127M params, 1176G FLOPs at 512x2048 (whole segmentor).
# (The authors' multi-scale test used 3 scales, 0.75/1.0/1.25, not mmseg's six.)
# ImageNet-1K checkpoint: Google Drive (linked from the Spatial-Mamba README), saved locally as checkpoints/spatialmamba_base.pth (or pass init_cfg via --cfg-options).
# The authors' detector/segmentor checkpoints (Google Drive, README) load with load_from.
_base_ = './upernet_spatialmamba-tiny_4xb4-160k_ade20k-512x512.py'
model = dict(
    backbone=dict(
        arch='spatialmamba_base',
        drop_path_rate=0.5,
        init_cfg=dict(checkpoint='checkpoints/spatialmamba_base.pth')),
    decode_head=dict(in_channels=[96, 192, 384, 768]),
    auxiliary_head=dict(in_channels=384))
