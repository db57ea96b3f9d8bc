"""Train a detector or segmentor with mmengine's Runner.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
                          [--auto-scale-lr] [--cfg-options k=v ...] [--launcher pytorch]

Same flags as mmdet's ``tools/train.py``; acsdet's modules are registered and checkpoint
loading stays ``weights_only`` (see docs/install.md).  A bad config, ``--cfg-options`` key or
work dir, and a model that cannot be built, end in one line ``tools/train.py: error: ...``
(exit status 2) with nothing left in the work dir (``acsdet.engine.runner_setup``).
"""
import argparse

from acsdet.apis import register_all_modules
from acsdet.engine.runner_setup import (TOOL_ERRORS, add_config_and_launcher_args, build_runner,
                                        check_work_dir, destroy_process_group, enable_amp,
                                        enable_auto_scale_lr,
                                        exit_with_error, load_config, parse_tool_args,
                                        set_resume)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train an acsdet model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--amp', action='store_true',
                        help='mixed precision: float16 + loss scaling on a GPU, bfloat16 '
                        'autocast on a CPU')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the LR linearly with the total batch size')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from this checkpoint; without a path, from the latest '
        'checkpoint in the work dir')
    add_config_and_launcher_args(parser, 'model.backbone.conv_type=3d train_cfg.max_epochs=2')
    return parse_tool_args(parser, argv)


def main(argv=None):
    args = parse_args(argv)
    # fill the registries and make checkpoint loading weights-only safe; the Runner sets
    # the default scope from cfg.default_scope
    register_all_modules(init_default_scope=False)
    try:
        cfg = load_config(args.config, args.cfg_options, args.launcher, args.work_dir)
        check_work_dir(cfg, from_flag=args.work_dir is not None)
        if args.amp:
            enable_amp(cfg)
        if args.auto_scale_lr:
            enable_auto_scale_lr(cfg)
        set_resume(cfg, args.resume)
        runner = build_runner(cfg)
    except TOOL_ERRORS as err:
        exit_with_error('tools/train.py', err)
    runner.train()
    # tear the process group down before the interpreter exits: left to exit, gloo's threads
    # can abort a rank ("terminate called without an active exception") after the work is done
    destroy_process_group()


if __name__ == '__main__':
    main()
