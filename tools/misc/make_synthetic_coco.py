"""Write the small generated COCO dataset used by the smoke config.

    python tools/misc/make_synthetic_coco.py data/smoke_coco [--num-train 8] [--num-val 4]
"""
import argparse

from acsdet.testing import make_synthetic_coco


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('root', help='output folder')
    p.add_argument('--num-train', type=int, default=8)
    p.add_argument('--num-val', type=int, default=4)
    p.add_argument('--size', type=int, default=128)
    p.add_argument('--seed', type=int, default=0)
    a = p.parse_args(argv)
    files = make_synthetic_coco(a.root, a.num_train, a.num_val, a.size, seed=a.seed)
    print(f'wrote {a.root}: ' + ', '.join(f'{k}={v}' for k, v in files.items()))


if __name__ == '__main__':
    main()
