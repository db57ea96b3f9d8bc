# The dataloaders shared by the volume segmentation dataset bases (lidc_nodules, lits_liver_tumor,
# promise12_prostate, brats18): a json-indexed VolumeDataset with "training" / "validation"
# splits.  A dataset base inherits this file and fills in data_root, ann_file, classes, the
# pipelines and its batch size; test = validation.
dataset_type = 'VolumeDataset'

train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, split_key='training'))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, split_key='validation', test_mode=True))
test_dataloader = val_dataloader
