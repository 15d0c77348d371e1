# Mask R-CNN 3x with multi-scale training, VMamba-S (s2l15, the paper's final S) backbone, COCO.
# Upstream config: MzeroMiko/VMamba detection/configs/vssm1/mask_rcnn_vssm_fpn_coco_small_ms_3x.py; numbers: MzeroMiko/VMamba assets/performance.md.
# Paper (COCO val2017): box AP 49.9 (AP50 70.9, AP75 54.7), mask AP 44.2 (AP50 68.2, AP75 47.7);
# 70M params, 384G FLOPs at 1280x800 (whole detector).
# The authors' detector checkpoint loads with load_from: https://github.com/MzeroMiko/VMamba/releases/download/%23v2det/mask_rcnn_vssm_fpn_coco_small_ms_3x_epoch_32.pth
_base_ = './mask-rcnn_vmamba-tiny-s1l8_fpn_ms-crop-3x_coco.py'
model = dict(
    backbone=dict(
        arch='vmamba_small_s2l15',
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint='https://github.com/MzeroMiko/VMamba/releases/download/%23v2cls/vssm_small_0229_ckpt_epoch_222.pth')),
    neck=dict(in_channels=[96, 192, 384, 768]))
