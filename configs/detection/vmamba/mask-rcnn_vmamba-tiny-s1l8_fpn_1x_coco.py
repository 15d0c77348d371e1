# Mask R-CNN 1x, VMamba-T (s1l8, the paper's final T) backbone, COCO.
# Upstream config: MzeroMiko/VMamba detection/configs/vssm1/mask_rcnn_vssm_fpn_coco_tiny.py; numbers: MzeroMiko/VMamba assets/performance.md.
# Paper (COCO val2017): box AP 47.3 (AP50 69.3, AP75 52.0), mask AP 42.7 (AP50 66.4, AP75 45.9);
# 50M params, 271G FLOPs at 1280x800 (whole detector).
# The authors' detector checkpoint loads with load_from: https://github.com/MzeroMiko/VMamba/releases/download/%23v2det/mask_rcnn_vssm_fpn_coco_tiny_s_epoch_12.pth
_base_ = '../_base_/mask-rcnn_zoo_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        type='VMamba',
        arch='vmamba_tiny_s1l8',
        drop_path_rate=0.2,
        init_cfg=dict(type='Pretrained', checkpoint='https://github.com/MzeroMiko/VMamba/releases/download/%23v2cls/vssm1_tiny_0230s_ckpt_epoch_264.pth')),
    neck=dict(in_channels=[96, 192, 384, 768]))
