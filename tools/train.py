#!/usr/bin/env python
"""Search: train the PFLD-FBNet (or another registered) supernet with a latency LUT.

    python tools/train.py                       # synthetic faces, shipped ORT LUT
    python tools/train.py --dataset jd106 --data_root /data/jd106 --dev_id 0
    python tools/train.py --mode target --target_ms 0.9 --config my.yaml
    python tools/train.py --config configs/mbv2_search.yaml      # MobileNetV2 landmark space
    python tools/train.py --config configs/hourglass_search.yaml # hourglass face parsing
    python tools/train.py --dev_id 0,1                # one DDP worker per GPU (NCCL)
    python tools/train.py --dev_id cpu --nproc 2      # two gloo workers on the CPU
    torchrun --nnodes 2 --node_rank R --nproc_per_node 8 --master_addr A tools/train.py
    python tools/train.py --auto_resume               # continue from checkpoint_last.pth

Writes <snapshot>/supernet/{checkpoint_last.pth, checkpoint_best.pth, arch.json, tensorboard/}
and prints the derived architecture with its LUT-predicted latency and the best validation
metric (NME for landmark spaces, mIoU for segmentation).
"""
import json
import sys

import _bootstrap

from lib.config import SearchConfig
from lib.train import run_search


def main(argv=None) -> int:
    result = _bootstrap.launch(SearchConfig, run_search, argv, __doc__)
    if result is None:  # a torchrun worker other than rank 0
        return 0
    print("derived architecture:")
    print(json.dumps(result.arch["choices"], indent=2))
    print(f"LUT-predicted latency: {result.predicted:.4f} {result.unit}")
    print(f"best val {result.metric}: {result.best:.4f}")
    print(f"checkpoints and arch.json in {result.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(_bootstrap.run_main(main))
