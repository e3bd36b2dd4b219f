#!/usr/bin/env python
"""Retrain (finetune) a subnet, by default the one derived by a search, from the supernet's
weights.

    python tools/retrain.py --supernet ckpt_save/supernet/checkpoint_last.pth
    python tools/retrain.py --supernet CKPT --arch my_arch.json --name mine
    python tools/retrain.py --arch lib/spaces/archs/pfld_mbv2.json --from_scratch --name mbv2
    python tools/retrain.py --resume ckpt_save/subnet/checkpoint_last.pth
    python tools/retrain.py --dev_id 0,1 --supernet CKPT               # 2 GPUs (DDP)

Writes <snapshot>/<name>/{checkpoint_best.pth, checkpoint_last.pth, tensorboard/}.
"""
import sys

import _bootstrap

from lib.config import RetrainConfig
from lib.train import run_retrain


def main(argv=None) -> int:
    result = _bootstrap.launch(RetrainConfig, run_retrain, argv, __doc__)
    if result is None:  # a torchrun worker other than rank 0
        return 0
    print(f"best val {result.metric}: {result.best:.4f}; checkpoints in {result.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(_bootstrap.run_main(main, (RuntimeError,)))
