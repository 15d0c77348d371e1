# EfficientVMamba-Tiny: timm `efficientvmamba_tiny`, ImageNet-1k 224x224.
# Reproduces: top-1 76.5 % (6M params, 0.8G FLOPs), TerryPei/EfficientVMamba README (its log: best
#   raw-model top-1 76.48, best EMA top-1 76.414).
# Recipe: the released training log (see ../_base_/efficientvmamba_in1k.py): 16 GPUs x 128, AdamW LR 2e-3,
#   wd 0.04, grad-clip 1.0, 20 warm-up epochs, cosine, 300 epochs, mixup 0.2 / cutmix 1.0, drop path 0.1.
# Original weights: https://huggingface.co/TerryPei/EfficientVMamba-Tiny/resolve/main/efficient_vmamba_tiny.ckpt
#   evaluate them with `tools/test.py THIS_CONFIG path/to/efficient_vmamba_tiny.ckpt`.
_base_ = ['../_base_/efficientvmamba_in1k.py']

model = dict(model_name='efficientvmamba_tiny')

train_dataloader = dict(batch_size=128)
val_dataloader = dict(batch_size=128)
test_dataloader = dict(batch_size=128)

# The recipe's LR of 2e-3 belongs to this total batch;
# `--cfg-options auto_scale_lr.enable=True` rescales it for another one.
auto_scale_lr = dict(base_batch_size=2048)
