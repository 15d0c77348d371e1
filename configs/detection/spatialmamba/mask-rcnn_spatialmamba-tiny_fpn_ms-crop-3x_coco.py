# Mask R-CNN 3x with multi-scale training, Spatial-Mamba-T backbone, COCO.
# Upstream config: EdwardChasel/Spatial-Mamba detection/configs/spatialmamba/mask_rcnn_spatialmamba_fpn_coco_tiny_3x.py; numbers: the Spatial-Mamba README.
# Paper (COCO val2017): box AP 49.3, mask AP 43.6; 46M params, 261G FLOPs at 1280x800.
# ImageNet-1K checkpoint: Google Drive (linked from the Spatial-Mamba README), saved locally as checkpoints/spatialmamba_tiny.pth (or pass init_cfg via --cfg-options).
# The authors' detector/segmentor checkpoints (Google Drive, README) load with load_from.
_base_ = './mask-rcnn_spatialmamba-tiny_fpn_1x_coco.py'

# 3x schedule with the DETR-style multi-scale resize / crop augmentation (as mmdet's
# swin/mask-rcnn_swin-t-p4-w7_fpn_ms-crop-3x_coco.py): 36 epochs, steps at 27 and 33.
_scales = [(480, 1333), (512, 1333), (544, 1333), (576, 1333), (608, 1333), (640, 1333),
           (672, 1333), (704, 1333), (736, 1333), (768, 1333), (800, 1333)]
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='RandomChoice',
        transforms=[
            [dict(type='RandomChoiceResize', scales=_scales, keep_ratio=True)],
            [
                dict(type='RandomChoiceResize', scales=[(400, 1333), (500, 1333), (600, 1333)],
                     keep_ratio=True),
                dict(type='RandomCrop', crop_type='absolute_range', crop_size=(384, 600),
                     allow_negative_crop=True),
                dict(type='RandomChoiceResize', scales=_scales, keep_ratio=True),
            ],
        ]),
    dict(type='PackDetInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
max_epochs = 36
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000),
    dict(type='MultiStepLR', begin=0, end=max_epochs, by_epoch=True, milestones=[27, 33], gamma=0.1),
]
