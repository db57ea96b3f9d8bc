"""Config preparation of a CPU-only distributed run (acsdet.engine.runner_setup)."""
import os.path as osp

import pytest
import torch

from acsdet.engine.runner_setup import load_config

SMOKE_CFG = 'configs/smoke/maskrcnn_r18_fpn_1xb2_3e_synthetic.py'
pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only behaviour')


def test_pytorch_launcher_on_cpu_uses_gloo_and_no_device_ids(repo_root):
    cfg = load_config(osp.join(repo_root, SMOKE_CFG), launcher='pytorch')
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert cfg.model_wrapper_cfg.type == 'MMDistributedDataParallel'
    assert cfg.model_wrapper_cfg.device_ids is None
    assert cfg.model_wrapper_cfg.find_unused_parameters is False


def test_configured_wrapper_is_kept(repo_root):
    cfg = load_config(osp.join(repo_root, SMOKE_CFG), launcher='pytorch', cfg_options={
        'model_wrapper_cfg': dict(type='SyncBNDistributedDataParallel'),
        'find_unused_parameters': True})
    assert cfg.model_wrapper_cfg.type == 'SyncBNDistributedDataParallel'
    assert cfg.model_wrapper_cfg.device_ids is None
    assert cfg.model_wrapper_cfg.find_unused_parameters is True


def test_single_process_config_is_untouched(repo_root):
    cfg = load_config(osp.join(repo_root, SMOKE_CFG), launcher='none')
    assert cfg.env_cfg.dist_cfg.backend == 'nccl'
    assert 'model_wrapper_cfg' not in cfg
