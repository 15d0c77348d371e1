# Mask R-CNN 1x, Vanilla-VMamba-B (v0) backbone, COCO.
# Upstream config: MzeroMiko/VMamba detection/configs/vssm/mask_rcnn_vssm_fpn_coco_base.py; numbers: MzeroMiko/VMamba assets/performance.md.
# Paper (COCO val2017): box AP 48.6 (AP50 70.0, AP75 53.1), mask AP 43.3 (AP50 67.1, AP75 46.7);
# 96M params, 540G FLOPs at 1280x800 (whole detector).
# The authors' detector checkpoint loads with load_from: https://github.com/MzeroMiko/VMamba/releases/download/%23v0det/vssmbase_mask_rcnn_swin_fpn_coco_epoch_12.pth
# (The original trained it with 1 image per GPU on 16 GPUs: the same 16 images per step.)
_base_ = './mask-rcnn_vmamba-tiny-s1l8_fpn_1x_coco.py'
model = dict(
    backbone=dict(
        arch='vmamba_base_v0',
        drop_path_rate=0.2,
        init_cfg=dict(checkpoint='https://github.com/MzeroMiko/VMamba/releases/download/%23v0cls/vssmbase_dp06_ckpt_epoch_241.pth')),
    neck=dict(in_channels=[128, 256, 512, 1024]))
