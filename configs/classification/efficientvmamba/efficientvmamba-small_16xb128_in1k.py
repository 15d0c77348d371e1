# EfficientVMamba-Small: timm `efficientvmamba_small`, ImageNet-1k 224x224.
# Reproduces: top-1 78.7 % (11M params, 1.3G FLOPs), TerryPei/EfficientVMamba README (its log: best
#   raw-model top-1 78.67, best EMA top-1 78.584).
# Recipe: the released training log (see ../_base_/efficientvmamba_in1k.py): 16 GPUs x 128, AdamW LR 2e-3,
#   wd 0.04, grad-clip 1.0, 20 warm-up epochs, cosine, 300 epochs, mixup 0.2 / cutmix 1.0, drop path 0.1.
# The Small run was resumed at about epoch 172 with amp=False (its log); AMP is kept on here.
# Original weights: https://huggingface.co/TerryPei/EfficientVMamba-Small/resolve/main/efficient_vmamba_small.ckpt
#   evaluate them with `tools/test.py THIS_CONFIG path/to/efficient_vmamba_small.ckpt`.
_base_ = ['../_base_/efficientvmamba_in1k.py']

model = dict(model_name='efficientvmamba_small')

train_dataloader = dict(batch_size=128)
val_dataloader = dict(batch_size=128)
test_dataloader = dict(batch_size=128)

# The recipe's LR of 2e-3 belongs to this total batch;
# `--cfg-options auto_scale_lr.enable=True` rescales it for another one.
auto_scale_lr = dict(base_batch_size=2048)
