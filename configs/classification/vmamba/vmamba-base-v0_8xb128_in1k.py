# VMamba base v0 (Vanilla-VMamba-B): timm `vmamba_base_v0`, ImageNet-1k 224x224.
# Reproduces: top-1 83.7 % (76M params, 18.0G FLOPs), VMamba README / assets/performance.md.
# Recipe: MzeroMiko/VMamba classification/config.py + main.py (the Swin recipe) with
#   configs/vssm/vmambav0_base_224.yaml:
#   300 epochs, 8 GPUs x 128, AdamW LR 1e-3 (5e-4 x 1024 / 512), wd 0.05, 20 warm-up epochs, cosine,
#   grad-clip 5.0, AMP, EMA 0.9999, RandAugment m9-mstd0.5-inc1, random erasing 0.25, mixup 0.8 /
#   cutmix 1.0, label smoothing 0.1, drop path 0.6; test: resize 256, centre-crop 224.
# drop_path_rate 0.6 as in the builder and the checkpoint's name (dp06); the yaml says 0.5.
# Original weights: https://github.com/MzeroMiko/VMamba/releases/download/%23v0cls/vssmbase_dp06_ckpt_epoch_241.pth
#   evaluate them with `tools/test.py THIS_CONFIG path/to/vssmbase_dp06_ckpt_epoch_241.pth`.
_base_ = [
    '../_base_/models/zoo_classifier_in1k.py',
    '../_base_/datasets/imagenet_bs128_swin_224.py',
    '../_base_/schedules/imagenet_bs1024_adamw_swin_300e.py',
    '../_base_/default_runtime.py',
]

model = dict(model_name='vmamba_base_v0', drop_path_rate=0.6)
