# GroupMamba-Tiny: timm `groupmamba_tiny`, ImageNet-1k 224x224.
# Reproduces: top-1 83.3 % (23M params, 4.5G FLOPs), Amshaker/GroupMamba README and paper.
# Recipe: GroupMamba train.py (the Swin / VMamba recipe): 300 epochs, 8 GPUs x 128, AdamW LR 1e-3
#   (5e-4 x 1024 / 512), wd 0.05, 20 warm-up epochs, cosine, grad-clip 5.0, AMP, EMA 0.9999,
#   RandAugment m9-mstd0.5-inc1, random erasing 0.25, mixup 0.8 / cutmix 1.0, label smoothing 0.1,
#   drop path 0.05 (hard-coded in train.py; the yaml's 0.1 is unused); test: resize 256, centre-crop 224;
#   plus DeiT hard distillation: teacher RegNetY-16GF with DeiT's weights (timm
#   `regnety_160.deit_in1k`, the file train.py loads), fed the same mixed batch, loss
#   0.5 * CE(class head, mixup targets) + 0.5 * CE(distillation head, teacher argmax).
#   The paper's ablation credits distillation with +0.8 top-1 on GroupMamba-T.
# Original weights (EMA): https://huggingface.co/Abdelrahman-shaker/GroupMamba-Tiny (groupmamba_tiny_ema.pth)
#   evaluate them with `tools/test.py THIS_CONFIG path/to/groupmamba_tiny_ema.pth`.
_base_ = [
    '../_base_/models/zoo_classifier_in1k.py',
    '../_base_/datasets/imagenet_bs128_swin_224.py',
    '../_base_/schedules/imagenet_bs1024_adamw_swin_300e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    model_name='groupmamba_tiny',
    drop_path_rate=0.05,
    distillation=dict(
        teacher='regnety_160.deit_in1k',
        kind='hard',
        alpha=0.5,
        tau=1.0,
        teacher_kwargs=dict(pretrained=True),
    ),
)
