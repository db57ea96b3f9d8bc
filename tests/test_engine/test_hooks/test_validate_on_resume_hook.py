"""ValidateOnResumeHook: a resumed run validates the epoch it restarts from (a run stopped
between an epoch's checkpoint and its validation loses no validation); a fresh run validates
nothing extra."""
import torch
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

from acsdet.engine.hooks import ValidateOnResumeHook
from acsdet.registry import HOOKS
from acsdet.utils.safe_checkpoint import allow_mmengine_checkpoint_types

VALIDATED = []
VALIDATED_W = []


class _Data(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return dict(x=torch.tensor([float(i)]))


class _Model(BaseModel):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x, mode='tensor'):
        x = torch.stack(x) if isinstance(x, list) else x
        if mode == 'loss':
            return dict(loss=((self.w - x)**2).mean())
        return [dict(w=float(self.w))]


class _Metric(BaseMetric):
    def process(self, data_batch, data_samples):
        self.results.extend(data_samples)

    def compute_metrics(self, results):
        return dict(w=results[0]['w'])


def _runner(work_dir, resume, epochs=2):
    allow_mmengine_checkpoint_types()  # as tools/train.py: resume reads the message hub
    class Rec(_Metric):
        def compute_metrics(self, results):
            VALIDATED.append(len(VALIDATED))
            VALIDATED_W.append(results[0]['w'])
            return super().compute_metrics(results)

    loader = dict(dataset=_Data(), batch_size=2, sampler=dict(type='DefaultSampler',
                                                               shuffle=False),
                  collate_fn=dict(type='default_collate'))
    return Runner(model=_Model(), work_dir=str(work_dir), train_dataloader=loader,
                  val_dataloader=loader, val_evaluator=[Rec(prefix='toy')],
                  train_cfg=dict(by_epoch=True, max_epochs=epochs, val_interval=1),
                  val_cfg=dict(), optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
                  default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
                  custom_hooks=[dict(type='ValidateOnResumeHook')], resume=resume,
                  default_scope='acsdet')


def test_registered():
    assert HOOKS.get('ValidateOnResumeHook') is ValidateOnResumeHook


def test_resumed_epoch_is_validated_once(tmp_path):
    VALIDATED.clear()
    _runner(tmp_path, False, epochs=2).train()
    assert len(VALIDATED) == 2  # a fresh run: one validation per epoch
    w2 = VALIDATED_W[-1]
    # resume from epoch 2 (as after a kill between its checkpoint and its validation)
    VALIDATED.clear()
    _runner(tmp_path, True, epochs=3).train()
    assert len(VALIDATED) == 2  # epoch 2 on resume, then epoch 3
    assert VALIDATED_W[-2] == w2  # the same weights as the epoch-2 validation of the run
