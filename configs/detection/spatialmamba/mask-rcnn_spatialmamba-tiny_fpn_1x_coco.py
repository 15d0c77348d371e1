# Mask R-CNN 1x, Spatial-Mamba-T backbone, COCO.
# Upstream config: EdwardChasel/Spatial-Mamba detection/configs/spatialmamba/mask_rcnn_spatialmamba_fpn_coco_tiny.py; numbers: the Spatial-Mamba README.
# Paper (COCO val2017): box AP 47.6, mask AP 42.9; 46M params, 261G FLOPs at 1280x800.
# ImageNet-1K checkpoint: Google Drive (linked from the Spatial-Mamba README), saved locally as checkpoints/spatialmamba_tiny.pth (or pass init_cfg via --cfg-options).
# The authors' detector/segmentor checkpoints (Google Drive, README) load with load_from.
_base_ = '../_base_/mask-rcnn_zoo_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        type='SpatialMamba',
        arch='spatialmamba_tiny',
        drop_path_rate=0.2,
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/spatialmamba_tiny.pth')),
    neck=dict(in_channels=[64, 128, 256, 512]))
