# UperNet 160k, Spatial-Mamba-S backbone, ADE20K 512x512.
# Upstream config: EdwardChasel/Spatial-Mamba segmentation/configs/spatialmamba/upernet_spatialmamba_4xb4-160k_ade20k-512x512_small.py; numbers: the Spatial-Mamba README.
# Paper (ADE20K val): mIoU 50.6 single-scale, 51.4 multi-scale + flip (--tta);
# 73M params, 992G FLOPs at 512x2048 (whole segmentor).
# (The authors' multi-scale test used 3 scales, 0.75/1.0/1.25, not mmseg's six.)
# ImageNet-1K checkpoint: Google Drive (linked from the Spatial-Mamba README), saved locally as checkpoints/spatialmamba_small.pth (or pass init_cfg via --cfg-options).
# The authors' detector/segmentor checkpoints (Google Drive, README) load with load_from.
_base_ = './upernet_spatialmamba-tiny_4xb4-160k_ade20k-512x512.py'
model = dict(
    backbone=dict(
        arch='spatialmamba_small',
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint='checkpoints/spatialmamba_small.pth')),
    decode_head=dict(in_channels=[64, 128, 256, 512]),
    auxiliary_head=dict(in_channels=256))
