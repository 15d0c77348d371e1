# Mask R-CNN 1x, Spatial-Mamba-S backbone, COCO.
# Upstream config: EdwardChasel/Spatial-Mamba detection/configs/spatialmamba/mask_rcnn_spatialmamba_fpn_coco_small.py; numbers: the Spatial-Mamba README.
# Paper (COCO val2017): box AP 49.2, mask AP 44.0; 63M params, 315G FLOPs at 1280x800.
# ImageNet-1K checkpoint: Google Drive (linked from the Spatial-Mamba README), saved locally as checkpoints/spatialmamba_small.pth (or pass init_cfg via --cfg-options).
# The authors' detector/segmentor checkpoints (Google Drive, README) load with load_from.
_base_ = './mask-rcnn_spatialmamba-tiny_fpn_1x_coco.py'
model = dict(
    backbone=dict(
        arch='spatialmamba_small',
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint='checkpoints/spatialmamba_small.pth')),
    neck=dict(in_channels=[64, 128, 256, 512]))
