# UperNet 160k, Spatial-Mamba-T backbone, ADE20K 512x512 (spatialmamba.md §6.3, §6.4).
# Paper (ADE20K val): mIoU 48.6 single-scale, 49.4 multi-scale + flip (--tta);
# 57M params, 936G FLOPs at 512x2048 (whole segmentor).
# (The authors' multi-scale test used 3 scales, 0.75/1.0/1.25, not mmseg's six.)
# ImageNet-1K checkpoint: Google Drive (spatialmamba.md §1.2), saved locally as checkpoints/spatialmamba_tiny.pth (or pass init_cfg via --cfg-options).
# The authors' detector/segmentor checkpoints (Google Drive, README) load with load_from.
_base_ = [
    'mmseg::_base_/models/upernet_r50.py',
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_160k.py',
]
custom_imports = dict(imports=['vmamba_zoo.mm'], allow_failed_imports=False)
crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)

model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='SpatialMamba',
        arch='spatialmamba_tiny',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.2,
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/spatialmamba_tiny.pth')),
    decode_head=dict(in_channels=[64, 128, 256, 512], num_classes=150),
    auxiliary_head=dict(in_channels=256, num_classes=150))

# The originals' recipe (Swin's): AdamW lr 6e-5, wd 0.01, no weight decay on norms, 1500-iteration
# linear warm-up then poly decay to 0 at 160k iterations; 16 images per step.
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={'norm': dict(decay_mult=0.)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=160000, by_epoch=False),
]
train_dataloader = dict(batch_size=4)
val_dataloader = dict(batch_size=1)
test_dataloader = val_dataloader
