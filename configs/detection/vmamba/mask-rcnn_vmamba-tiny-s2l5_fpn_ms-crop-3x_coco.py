# Mask R-CNN 3x with multi-scale training, VMamba-T (s2l5) backbone, COCO.
# Upstream config: MzeroMiko/VMamba detection/configs/vssm1/mask_rcnn_vssm_fpn_coco_tiny1_ms_3x.py; numbers: MzeroMiko/VMamba assets/performance.md.
# Paper (COCO val2017): box AP 48.9 (AP50 70.6, AP75 53.6), mask AP 43.7 (AP50 67.7, AP75 46.8);
# 50M params, 270G FLOPs at 1280x800 (whole detector).
# The authors' detector checkpoint loads with load_from: https://github.com/MzeroMiko/VMamba/releases/download/%23v2det/mask_rcnn_vssm_fpn_coco_tiny_ms_3x_epoch_36.pth
_base_ = './mask-rcnn_vmamba-tiny-s1l8_fpn_ms-crop-3x_coco.py'
model = dict(
    backbone=dict(
        arch='vmamba_tiny_s2l5',
        drop_path_rate=0.2,
        init_cfg=dict(checkpoint='https://github.com/MzeroMiko/VMamba/releases/download/%23v2cls/vssm_tiny_0230_ckpt_epoch_262.pth')),
    neck=dict(in_channels=[96, 192, 384, 768]))
