# Mask R-CNN 3x with multi-scale training, Vanilla-VMamba-T (v0) backbone, COCO.
# Upstream config: MzeroMiko/VMamba detection/configs/vssm/mask_rcnn_vssm_fpn_coco_tiny_ms_3x.py; numbers: MzeroMiko/VMamba assets/performance.md.
# Paper (COCO val2017): box AP 48.5 (AP50 70.0, AP75 52.7), mask AP 43.2 (AP50 66.9, AP75 46.4);
# 42M params, 286G FLOPs at 1280x800 (whole detector).
# The authors' detector checkpoint loads with load_from: https://github.com/MzeroMiko/VMamba/releases/download/%23v0det/vssmtiny_mask_rcnn_swin_fpn_coco_ms_3x_epoch_34.pth
_base_ = './mask-rcnn_vmamba-tiny-s1l8_fpn_ms-crop-3x_coco.py'
model = dict(
    backbone=dict(
        arch='vmamba_tiny_v0',
        drop_path_rate=0.2,
        init_cfg=dict(checkpoint='https://github.com/MzeroMiko/VMamba/releases/download/%23v0cls/vssmtiny_dp01_ckpt_epoch_292.pth')),
    neck=dict(in_channels=[96, 192, 384, 768]))
