# Fine-tune any zoo model (any timm name) on your own ImageFolder:
#   data/imagefolder/train/<class>/*.jpg and data/imagefolder/val/<class>/*.jpg
# Copy this file and edit the variables below (model_name, num_classes, data_root), or override
# the entries they fill in:
#   python tools/train.py configs/classification/finetune/zoo-model_1xb64_imagefolder.py \
#       --cfg-options model.model_name=groupmamba_tiny model.num_classes=10 data_preprocessor.num_classes=10 \
#       train_dataloader.dataset.data_root=DIR val_dataloader.dataset.data_root=DIR test_dataloader.dataset.data_root=DIR
# Starts from the model's released ImageNet weights (its pretrained_cfg url/file, the original file,
# read safely and strictly; set init_cfg.checkpoint to use another file), with a fresh head when the
# class count differs from 1000. The recipe is a conventional short fine-tune (not from a paper):
# 30 epochs, 1 GPU x 64, AdamW LR 1e-4 per 64 images (`--cfg-options auto_scale_lr.enable=True`
# rescales it to the batch used), wd 0.05 (not for 1-D parameters and biases), 2 warm-up epochs,
# cosine to 1e-6, grad-clip 5.0, AMP (tools/train.py trains it in float32 where there is no GPU),
# EMA 0.9999, the Swin / VMamba augmentations (RandAugment, random erasing 0.25, mixup 0.8 /
# cutmix 1.0, label smoothing 0.1) and drop path 0.1. For small datasets consider weaker mixup.
_base_ = [
    '../_base_/models/zoo_classifier_in1k.py',
    '../_base_/datasets/imagefolder_bs128_swin_224.py',
    '../_base_/schedules/imagenet_bs1024_adamw_swin_300e.py',
    '../_base_/default_runtime.py',
]

model_name = 'vmamba_tiny_s1l8'
num_classes = 10
data_root = 'data/imagefolder'
max_epochs = 30

model = dict(
    model_name=model_name,
    num_classes=num_classes,
    drop_path_rate=0.1,
    init_cfg=dict(type='Pretrained', checkpoint=None, num_classes=1000),
)
data_preprocessor = dict(num_classes=num_classes)

train_dataloader = dict(batch_size=64, dataset=dict(data_root=data_root))
val_dataloader = dict(batch_size=64, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(lr=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=True, begin=0, end=2, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-6, by_epoch=True, begin=2, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
auto_scale_lr = dict(base_batch_size=64)
