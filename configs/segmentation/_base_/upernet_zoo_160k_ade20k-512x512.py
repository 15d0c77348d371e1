# UperNet 160k on ADE20K 512x512 with a zoo backbone: what every family's segmentation config
# shares. Each config replaces the backbone (`_delete_=True`) and sets the head widths.
_base_ = [
    'mmseg::_base_/models/upernet_r50.py',
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_160k.py',
]
custom_imports = dict(imports=['vmamba_zoo.mm'], allow_failed_imports=False)
crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)

model = dict(data_preprocessor=data_preprocessor, pretrained=None)

# The originals' recipe (Swin's): AdamW lr 6e-5, wd 0.01, no weight decay on norms, 1500-iteration
# linear warm-up then poly decay to 0 at 160k iterations; 16 images per step.
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={'norm': dict(decay_mult=0.)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', eta_min=0.0, power=1.0, begin=1500, end=160000, by_epoch=False),
]
train_dataloader = dict(batch_size=4)
val_dataloader = dict(batch_size=1)
test_dataloader = val_dataloader

# `tools/train.py CONFIG --resume` continues exactly as the uninterrupted run: the model's
# randomness (dropout) depends only on (seed, iteration) (IterSeedHook, from vmamba_zoo.mm), the
# augmentations on the dataloader workers, whose batches MMEngine replays on resume; the seed is
# fixed (the sampler's shuffle seed is drawn from it when the dataloader is built).
custom_hooks = [dict(type='IterSeedHook')]
randomness = dict(seed=0)
