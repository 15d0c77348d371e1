# Spatial-Mamba-Tiny: timm `spatialmamba_tiny`, ImageNet-1k 224x224.
# Reproduces: top-1 83.5 % (27M params, 4.5G FLOPs), EdwardChasel/Spatial-Mamba README.
# Recipe: Spatial-Mamba main.py + config.py + configs/spatialmamba/spatialmamba_tiny.yaml (the Swin /
#   VMamba recipe): 300 epochs, 8 GPUs x 128, AdamW LR 1e-3 (5e-4 x 1024 / 512), wd 0.05, 20 warm-up
#   epochs, cosine, grad-clip 5.0, AMP, EMA 0.9999, RandAugment m9-mstd0.5-inc1, random erasing 0.25,
#   mixup 0.8 / cutmix 1.0, label smoothing 0.1, drop path 0.2; test: resize 256, centre-crop 224;
#   plus MESA self-distillation (from MLLA): from epoch 75 (25 % of 300) on, the loss adds
#   1.0 * soft-CE(logits, softmax(EMA model logits on the same batch)).
# Original weights: Google Drive, see the Spatial-Mamba README (weights under `model`);
#   evaluate them with `tools/test.py THIS_CONFIG path/to/checkpoint.pth`.
_base_ = [
    '../_base_/models/zoo_classifier_in1k.py',
    '../_base_/datasets/imagenet_bs128_swin_224.py',
    '../_base_/schedules/imagenet_bs1024_adamw_swin_300e.py',
    '../_base_/default_runtime.py',
]

model = dict(model_name='spatialmamba_tiny', drop_path_rate=0.2, mesa=dict(weight=1.0, start_epoch=75))

custom_hooks = [
    dict(type='EpochSeedHook'),
    dict(type='ReleasedCheckpointHook'),
    dict(type='EMAHook', momentum=1e-4, update_buffers=True, priority='ABOVE_NORMAL'),
    dict(type='MESAHook'),
]
