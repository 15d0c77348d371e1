# Mask R-CNN 1x, VMamba-B (s2l15, the paper's final B) backbone, COCO.
# Upstream config: MzeroMiko/VMamba detection/configs/vssm1/mask_rcnn_vssm_fpn_coco_base.py; numbers: MzeroMiko/VMamba assets/performance.md.
# Paper (COCO val2017): box AP 49.2 (AP50 71.4, AP75 54.0), mask AP 44.1 (AP50 68.3, AP75 47.7);
# 108M params, 485G FLOPs at 1280x800 (whole detector).
# The authors' detector checkpoint loads with load_from: https://github.com/MzeroMiko/VMamba/releases/download/%23v2det/mask_rcnn_vssm_fpn_coco_base_epoch_11.pth
_base_ = './mask-rcnn_vmamba-tiny-s1l8_fpn_1x_coco.py'
model = dict(
    backbone=dict(
        arch='vmamba_base_s2l15',
        drop_path_rate=0.6,
        init_cfg=dict(checkpoint='https://github.com/MzeroMiko/VMamba/releases/download/%23v2cls/vssm_base_0229_ckpt_epoch_237.pth')),
    neck=dict(in_channels=[128, 256, 512, 1024]))
