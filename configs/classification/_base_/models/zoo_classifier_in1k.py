# A zoo model (any timm name) as an mmpretrain classifier for ImageNet-1k, with the Swin / VMamba
# loss: label smoothing 0.1 on Mixup (alpha 0.8) / CutMix (alpha 1.0) soft targets, one of the two
# per batch with equal probability (timm Mixup with switch_prob 0.5, mode 'batch').
model = dict(
    type='ZooClassifier',
    model_name='vmamba_tiny_s1l8',
    num_classes=1000,
    drop_path_rate=0.2,
    loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]),
)
