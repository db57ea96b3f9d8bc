"""Test (and evaluate) a trained model with mmengine's Runner.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out results.pkl]
                         [--show-dir DIR [--show-window soft_tissue|lung|bone]
                         [--show-score-thr 0.3]] [--tta] [--cfg-options k=v ...]
                         [--launcher pytorch]

``--tta`` tests with test-time augmentation: the config's ``tta_pipeline`` (horizontal flip in
the DeepLesion configs) and ``tta_model`` (``LesionDetTTAModel``: boxes and masks mapped back
and merged by NMS); see docs/detector.md.

Bad input found before the run (the config, a ``--cfg-options`` key, the checkpoint path, a
``--out`` that is not a .pkl in a writable folder, an unwritable work dir, a model that cannot
be built) ends in one line ``tools/test.py: error: ...`` (exit status 2), nothing written.
"""
import argparse
import os

from acsdet.apis import register_all_modules
from acsdet.engine.runner_setup import (TOOL_ERRORS, ConfigError, add_config_and_launcher_args,
                                        build_runner, check_out_file, check_work_dir,
                                        destroy_process_group, exit_with_error, load_config,
                                        parse_tool_args, use_tta)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and evaluate) an acsdet model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save evaluation metrics')
    parser.add_argument('--out', type=str,
                        help='dump predictions to a .pkl file for offline evaluation '
                        '(e.g. tools/froc_eval.py)')
    parser.add_argument('--show', action='store_true', help='show prediction results')
    parser.add_argument('--show-dir', help='save painted predictions under '
                        'work_dir/<timestamp>/<show-dir>')
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument('--show-window', default=None,
                        help='CT window of --show/--show-dir (soft_tissue, lung, bone, liver, '
                        'brain); default: the visualizer\'s (soft_tissue)')
    parser.add_argument('--show-score-thr', type=float, default=None,
                        help='predictions drawn by --show/--show-dir (default: the hook\'s, 0.3)')
    parser.add_argument('--tta', action='store_true',
                        help="test-time augmentation with the config's tta_pipeline and "
                             'tta_model')
    add_config_and_launcher_args(parser, 'test_dataloader.batch_size=2')
    return parse_tool_args(parser, argv)


def _show_predictions(cfg, args):
    """mmdet's switch (draw=True, show / test_out_dir) on the config's visualization hook:
    CTDetVisualizationHook for the detectors (one PNG per key slice, in a CT window, to
    <work_dir>/<timestamp>/<show-dir>/<series>_<key>.png), SegVisualizationHook for the
    segmentors (configs/_base_/seg_runtime.py: slices of image / truth / prediction)."""
    from mmdet.engine.hooks.utils import trigger_visualization_hook
    cfg = trigger_visualization_hook(cfg, args)
    hook = cfg.default_hooks['visualization']
    for flag, value, key in (('--show-score-thr', args.show_score_thr, 'score_thr'),
                             ('--show-window', args.show_window, 'window')):
        if value is None:
            continue
        if hook.get('type') != 'CTDetVisualizationHook':
            raise ConfigError(f'{flag} needs default_hooks.visualization of type '
                              'CTDetVisualizationHook (a detector config), got '
                              f'{hook.get("type")}')
        hook[key] = value
    return cfg


def main(argv=None):
    args = parse_args(argv)
    # fill the registries and make checkpoint loading weights-only safe; the Runner sets
    # the default scope from cfg.default_scope
    register_all_modules(init_default_scope=False)
    try:
        if args.out is not None:
            check_out_file(args.out)
        if not os.path.isfile(args.checkpoint):
            raise FileNotFoundError(f'checkpoint not found: {args.checkpoint}')
        cfg = load_config(args.config, args.cfg_options, args.launcher, args.work_dir)
        check_work_dir(cfg, from_flag=args.work_dir is not None)
        cfg.load_from = args.checkpoint
        if args.tta:
            use_tta(cfg)
        if args.show or args.show_dir:
            cfg = _show_predictions(cfg, args)
        runner = build_runner(cfg)
    except TOOL_ERRORS as err:
        exit_with_error('tools/test.py', err)
    if args.out is not None:
        from mmdet.evaluation import DumpDetResults
        runner.test_evaluator.metrics.append(DumpDetResults(out_file_path=args.out))
    runner.test()
    # tear the process group down before the interpreter exits: left to exit, gloo's threads
    # can abort a rank ("terminate called without an active exception") after the work is done
    destroy_process_group()


if __name__ == '__main__':
    main()
