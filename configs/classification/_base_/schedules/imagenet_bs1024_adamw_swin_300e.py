# The Swin / VMamba ImageNet schedule (classification/config.py + main.py of VMamba):
# AdamW (betas 0.9/0.999, eps 1e-8), base LR 5e-4 per 512 images -> 1e-3 at the total batch of
# 1024 (8 GPUs x 128), weight decay 0.05 except for 1-D parameters and parameters named `bias`
# (so A_logs, dt_projs_bias, x_proj_weight and dt_projs_weight are decayed, as in the original),
# gradients clipped to norm 5.0 after unscaling, fp16 AMP; 20 warm-up epochs rising linearly from
# 5e-7 per 512 (1e-6) to the LR, then per-iteration cosine to 5e-6 per 512 (1e-5) at epoch 300.
# Training another total batch: scale the LR with `--cfg-options auto_scale_lr.enable=True`.
optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(type='AdamW', lr=5e-4 * 1024 / 512, weight_decay=0.05, eps=1e-8, betas=(0.9, 0.999)),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, flat_decay_mult=0.0),
    clip_grad=dict(max_norm=5.0),
)

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=20, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=True, begin=20, end=300, convert_to_iter_based=True),
]

train_cfg = dict(by_epoch=True, max_epochs=300, val_interval=1)
val_cfg = dict()
test_cfg = dict()

auto_scale_lr = dict(base_batch_size=1024)
