# ImageNet-1k with the Swin / VMamba training pipeline (timm's create_transform as configured by
# Swin's `build_transform`): RandomResizedCrop 224 (scale 0.08-1, bicubic), horizontal flip,
# RandAugment 'rand-m9-mstd0.5-inc1', random erasing 0.25 ('pixel' mode: per-pixel normal noise).
# Colour jitter 0.4 is in the original configs but timm ignores it when RandAugment is on, so it
# is left out here. Test: resize the short side to 256 (= 224 / 0.875, bicubic), centre-crop 224.
# Mixup / CutMix are batch augmentations: see `_base_/models/zoo_classifier_in1k.py`.
dataset_type = 'ImageNet'
data_root = 'data/imagenet'
data_preprocessor = dict(
    num_classes=1000,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True,
)
bgr_mean = data_preprocessor['mean'][::-1]
bgr_std = data_preprocessor['std'][::-1]

rand_augment = dict(
    type='RandAugment',
    policies='timm_increasing',
    num_policies=2,
    total_level=10,
    magnitude_level=9,
    magnitude_std=0.5,
    hparams=dict(pad_val=[round(x) for x in bgr_mean], interpolation='bicubic'),
)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    rand_augment,
    dict(
        type='RandomErasing',
        erase_prob=0.25,
        mode='rand',
        min_area_ratio=0.02,
        max_area_ratio=1 / 3,
        fill_color=bgr_mean,
        fill_std=bgr_std,
    ),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]

# Workers are re-created (and re-seeded from the epoch's generator, see EpochSeedHook) every
# epoch, which is what makes a resumed run repeat the uninterrupted one.
train_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=False,
    worker_init_fn=dict(type='zoo_seed_worker'),
    dataset=dict(type=dataset_type, data_root=data_root, split='train', pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=128,
    num_workers=8,
    dataset=dict(type=dataset_type, data_root=data_root, split='val', pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
