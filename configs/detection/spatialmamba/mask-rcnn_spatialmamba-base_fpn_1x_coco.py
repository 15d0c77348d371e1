# Mask R-CNN 1x, Spatial-Mamba-B backbone, COCO.
# Upstream config: EdwardChasel/Spatial-Mamba detection/configs/spatialmamba/mask_rcnn_spatialmamba_fpn_coco_base.py; numbers: the Spatial-Mamba README.
# Paper (COCO val2017): box AP 50.4, mask AP 45.1; 115M params, 494G FLOPs at 1280x800.
# ImageNet-1K checkpoint: Google Drive (linked from the Spatial-Mamba README), saved locally as checkpoints/spatialmamba_base.pth (or pass init_cfg via --cfg-options).
# The authors' detector/segmentor checkpoints (Google Drive, README) load with load_from.
_base_ = './mask-rcnn_spatialmamba-tiny_fpn_1x_coco.py'
model = dict(
    backbone=dict(
        arch='spatialmamba_base',
        drop_path_rate=0.5,
        init_cfg=dict(checkpoint='checkpoints/spatialmamba_base.pth')),
    neck=dict(in_channels=[96, 192, 384, 768]))
