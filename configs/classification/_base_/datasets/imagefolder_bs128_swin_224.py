# Any ImageFolder (`data_root/train/<class>/*.jpg`, `data_root/val/<class>/*.jpg`; labels are the
# sorted class-folder names, as torchvision's ImageFolder assigns them) with the Swin / VMamba
# ImageNet pipelines of `imagenet_bs128_swin_224.py`. Set `num_classes` in the model and in
# `data_preprocessor`.
_base_ = ['./imagenet_bs128_swin_224.py']

dataset_type = 'CustomDataset'
data_root = 'data/imagefolder'

train_dataloader = dict(
    dataset=dict(_delete_=True, type=dataset_type, data_root=data_root, data_prefix='train',
                 pipeline={{_base_.train_pipeline}}),
)
val_dataloader = dict(
    dataset=dict(_delete_=True, type=dataset_type, data_root=data_root, data_prefix='val',
                 pipeline={{_base_.test_pipeline}}),
)
test_dataloader = val_dataloader
