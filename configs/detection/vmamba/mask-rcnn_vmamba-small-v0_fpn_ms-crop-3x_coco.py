# Mask R-CNN 3x with multi-scale training, Vanilla-VMamba-S (v0) backbone, COCO.
# Upstream config: MzeroMiko/VMamba detection/configs/vssm/mask_rcnn_vssm_fpn_coco_small_ms_3x.py; numbers: MzeroMiko/VMamba assets/performance.md.
# Paper (COCO val2017): box AP 49.7 (AP50 70.4, AP75 54.2), mask AP 44.0 (AP50 67.6, AP75 47.3);
# 64M params, 400G FLOPs at 1280x800 (whole detector).
# The authors' detector checkpoint loads with load_from: https://github.com/MzeroMiko/VMamba/releases/download/%23v0det/vssmsmall_mask_rcnn_swin_fpn_coco_ms_3x_epoch_34.pth
_base_ = './mask-rcnn_vmamba-tiny-s1l8_fpn_ms-crop-3x_coco.py'
model = dict(
    backbone=dict(
        arch='vmamba_small_v0',
        drop_path_rate=0.2,
        init_cfg=dict(checkpoint='https://github.com/MzeroMiko/VMamba/releases/download/%23v0cls/vssmsmall_dp03_ckpt_epoch_238.pth')),
    neck=dict(in_channels=[96, 192, 384, 768]))
