# UperNet 160k, GroupMamba-T backbone, ADE20K 512x512 (groupmamba.md §6).
# Paper (ADE20K val): mIoU 48.6 single-scale, 49.2 multi-scale + flip (--tta).
# No official downstream code or checkpoints exist (groupmamba.md §6): features are the model's own
# norm1..norm4 outputs, channels [64, 128, 348, 448], recipe as VMamba's. Paper numbers come from a
# secondary summary of the paper (unverified).
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
        type='GroupMamba',
        arch='groupmamba_tiny',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.2,
        init_cfg=dict(type='Pretrained', checkpoint='https://huggingface.co/Abdelrahman-shaker/GroupMamba-Tiny/resolve/main/groupmamba_tiny_ema.pth')),
    decode_head=dict(in_channels=[64, 128, 348, 448], num_classes=150),
    auxiliary_head=dict(in_channels=348, num_classes=150))

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
