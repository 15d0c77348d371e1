# UperNet 160k, Spatial-Mamba-T backbone, ADE20K 512x512.
# Upstream config: EdwardChasel/Spatial-Mamba segmentation/configs/spatialmamba/upernet_spatialmamba_4xb4-160k_ade20k-512x512_tiny.py; numbers: the Spatial-Mamba README.
# Paper (ADE20K val): mIoU 48.6 single-scale, 49.4 multi-scale + flip (--tta);
# 57M params, 936G FLOPs at 512x2048 (whole segmentor).
# (The authors' multi-scale test used 3 scales, 0.75/1.0/1.25, not mmseg's six.)
# ImageNet-1K checkpoint: Google Drive (linked from the Spatial-Mamba README), saved locally as checkpoints/spatialmamba_tiny.pth (or pass init_cfg via --cfg-options).
# The authors' detector/segmentor checkpoints (Google Drive, README) load with load_from.
_base_ = '../_base_/upernet_zoo_160k_ade20k-512x512.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='SpatialMamba',
        arch='spatialmamba_tiny',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.2,
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/spatialmamba_tiny.pth')),
    decode_head=dict(in_channels=[64, 128, 256, 512], num_classes=150),
    auxiliary_head=dict(in_channels=256, num_classes=150))
