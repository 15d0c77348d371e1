# Mask R-CNN 1x, Vanilla-VMamba-S (v0) backbone, COCO.
# Upstream config: MzeroMiko/VMamba detection/configs/vssm/mask_rcnn_vssm_fpn_coco_small.py; numbers: MzeroMiko/VMamba assets/performance.md.
# Paper (COCO val2017): box AP 48.2 (AP50 69.7, AP75 52.5), mask AP 43.0 (AP50 66.6, AP75 46.4);
# 64M params, 400G FLOPs at 1280x800 (whole detector).
# The authors' detector checkpoint loads with load_from: https://github.com/MzeroMiko/VMamba/releases/download/%23v0det/vssmsmall_mask_rcnn_swin_fpn_coco_epoch_12.pth
_base_ = './mask-rcnn_vmamba-tiny-s1l8_fpn_1x_coco.py'
model = dict(
    backbone=dict(
        arch='vmamba_small_v0',
        drop_path_rate=0.2,
        init_cfg=dict(checkpoint='https://github.com/MzeroMiko/VMamba/releases/download/%23v0cls/vssmsmall_dp03_ckpt_epoch_238.pth')),
    neck=dict(in_channels=[96, 192, 384, 768]))
