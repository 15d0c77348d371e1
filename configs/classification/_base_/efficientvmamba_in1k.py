# EfficientVMamba's ImageNet recipe, as its released training logs record it (the Namespace at the
# top of classification/logs/log_efficient_vmamba_{tiny,small,base}.txt; the runs used the bundled
# timm-style trainer classification/lib, not main.py):
#   300 epochs, 16 GPUs; AdamW LR 2e-3 (not scaled by batch), eps 1e-8, wd 0.04 (not for 1-D
#   parameters and biases), grad-clip norm 1.0, AMP; 20 warm-up epochs from 1e-7, per-iteration
#   cosine to 1e-6; label smoothing 0.1, RandAugment 'rand-m9-mstd0.5' (timm's non-increasing
#   magnitudes), random erasing 0.25 ('pixel'), mixup 0.2 / cutmix 1.0 (switch 0.5), EMA 0.9999,
#   drop path 0.1, bicubic, seed 42. Colour jitter 0.3 is inert under RandAugment (timm).
# Not reproduced: the trainer compressed DDP gradients to fp16 (fp16_compress_hook).
_base_ = [
    './models/zoo_classifier_in1k.py',
    './datasets/imagenet_bs128_swin_224.py',
    './schedules/imagenet_bs1024_adamw_swin_300e.py',
    './default_runtime.py',
]

model = dict(
    drop_path_rate=0.1,
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.2), dict(type='CutMix', alpha=1.0)]),
)

# timm's `_RAND_TRANSFORMS` in mmpretrain's terms: enhancement factors 0.1 + 1.8 * m / 10 without a
# random sign ((-0.9, 0.9) around 1, never negated), posterize / solarize milder at higher m.
rand_augment_policies = [
    dict(type='AutoContrast'),
    dict(type='Equalize'),
    dict(type='Invert'),
    dict(type='Rotate', magnitude_range=(0, 30)),
    dict(type='Posterize', magnitude_range=(0, 4)),
    dict(type='Solarize', magnitude_range=(0, 256)),
    dict(type='SolarizeAdd', magnitude_range=(0, 110)),
    dict(type='ColorTransform', magnitude_range=(-0.9, 0.9), random_negative_prob=0.0),
    dict(type='Contrast', magnitude_range=(-0.9, 0.9), random_negative_prob=0.0),
    dict(type='Brightness', magnitude_range=(-0.9, 0.9), random_negative_prob=0.0),
    dict(type='Sharpness', magnitude_range=(-0.9, 0.9), random_negative_prob=0.0),
    dict(type='Shear', magnitude_range=(0, 0.3), direction='horizontal'),
    dict(type='Shear', magnitude_range=(0, 0.3), direction='vertical'),
    dict(type='Translate', magnitude_range=(0, 0.45), direction='horizontal'),
    dict(type='Translate', magnitude_range=(0, 0.45), direction='vertical'),
]
bgr_mean = [103.53, 116.28, 123.675]
bgr_std = [57.375, 57.12, 58.395]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(
        type='RandAugment',
        policies=rand_augment_policies,
        num_policies=2,
        total_level=10,
        magnitude_level=9,
        magnitude_std=0.5,
        hparams=dict(pad_val=[round(x) for x in bgr_mean], interpolation='bicubic'),
    ),
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
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

optim_wrapper = dict(
    optimizer=dict(lr=2e-3, weight_decay=0.04),
    clip_grad=dict(max_norm=1.0),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-7 / 2e-3, by_epoch=True, begin=0, end=20, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=20, end=300, convert_to_iter_based=True),
]

randomness = dict(seed=42)
