# Res-VMamba (Vanilla-VMamba-S backbone + stage skips): timm `resvmamba_small`, CNFOOD-241
# (241 Chinese-food classes, the authors' split "CNFOOD-241-Chen"), 224x224, fine-tuned from the
# ImageNet-1k Vanilla-VMamba-S weights.
# Reproduces: top-1 81.70 %, top-5 96.83 % (Res-VMamba, PLOS ONE 2025 abstract; the arXiv v3 abstract's
#   79.54 % is the model trained without pretrained weights; the paper's Table 4 finds fine-tuning
#   from ImageNet VMamba weights best). Which of the two the released ckpt_epoch_166.pth gives is not
#   stated by the authors.
# Recipe: ChiShengChen/ResVMamba utils/config.py + run_train.sh (the Swin / VMamba recipe, "the same as
#   VMamba" for fine-tuning per the author): 300 epochs, 1 GPU x 128, AdamW LR 1.25e-4 (5e-4 x 128 / 512),
#   warm-up from 1.25e-7 for 20 epochs, per-iteration cosine to 1.25e-6, wd 0.05 (not for 1-D
#   parameters and biases), grad-clip 5.0, AMP, EMA 0.9999, RandAugment m9-mstd0.5-inc1, random erasing
#   0.25, mixup 0.8 / cutmix 1.0, label smoothing 0.1, drop path 0.3; test: resize 256, centre-crop 224.
# Data: `data/cnfood241/{train,val}/<000..240>/*.jpg` (class index = folder number).
# Initialisation: the Vanilla-VMamba-S ImageNet release (EMA weights under `model`); its 1000-class head
#   is not used (a fresh 241-class head). Only when training (the Runner's weight init), downloaded once.
# Released Res-VMamba weights: https://huggingface.co/ms57rd/Res-VMamba/resolve/main/ckpt_epoch_166.pth
#   evaluate them with `tools/test.py THIS_CONFIG path/to/ckpt_epoch_166.pth` (its head has 1000 rows,
#   of which rows 0..240 are the food classes; the loader keeps those).
_base_ = [
    '../_base_/models/zoo_classifier_in1k.py',
    '../_base_/datasets/imagefolder_bs128_swin_224.py',
    '../_base_/schedules/imagenet_bs1024_adamw_swin_300e.py',
    '../_base_/default_runtime.py',
]

num_classes = 241
data_root = 'data/cnfood241'

model = dict(
    model_name='resvmamba_small',
    num_classes=num_classes,
    drop_path_rate=0.3,
    init_cfg=dict(
        type='Pretrained',
        checkpoint='https://github.com/MzeroMiko/VMamba/releases/download/%23v0cls/vssmsmall_dp03_ckpt_epoch_238.pth',
        num_classes=1000,
    ),
)
data_preprocessor = dict(num_classes=num_classes)

train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(lr=5e-4 * 128 / 512))
auto_scale_lr = dict(base_batch_size=128)
