"""Shared bench plumbing: import path, machine description, JSON output, figures."""
import datetime as dt
import json
import random
import sys
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from lib.atomic import atomic_write_text  # noqa: E402
from lib.latency import host_cpu, random_choices, time_relative  # noqa: E402
from lib.latency.build import subnet  # noqa: E402
from lib.latency.measure import sessions_of  # noqa: E402
from lib.latency.slots import input_shape_of  # noqa: E402
from lib.spaces import DeployView  # noqa: E402
from lib.train.models import subnet_from_checkpoint  # noqa: E402


def machine() -> dict:
    import torch

    return {"cpu": host_cpu(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "date": dt.datetime.now().astimezone().isoformat(timespec="seconds")}


def write_result(name: str, result: dict, folder=None) -> Path:
    path = Path(folder or ROOT / "output" / "bench") / f"{name}.json"
    atomic_write_text(path, json.dumps(result, indent=1) + "\n")
    return path


# what a training's result does not depend on: where it runs, what it is called, how it
# resumes (search_vs_random's --reuse and the ground-truth tables share the definition)
NOT_RECIPE = {"snapshot", "name", "arch", "supernet", "resume", "auto_resume", "progress",
              "dev_id", "nproc", "save_every", "workers", "from_scratch", "space_kwargs"}


def recipe_of(config: dict) -> dict:
    """The settings of a retraining config that decide its result."""
    return {k: v for k, v in sorted(config.items()) if k not in NOT_RECIPE}


def add_timing_args(parser) -> None:
    """The drift-proof timing's flags, as the benches that time trained models share them."""
    from lib.latency import Timing

    parser.add_argument("--runs", type=int, default=Timing.runs,
                        help="timed runs per model per round")
    parser.add_argument("--precision", type=float, default=Timing.precision,
                        help="timing rounds until each median ratio's 95 %% interval is "
                             "within ± this")
    parser.add_argument("--max_rounds", type=int, default=Timing.max_rounds,
                        help="timing rounds at most")


def timing_of(args):
    from lib.latency import Timing

    return Timing(runs=args.runs, precision=args.precision, max_rounds=args.max_rounds)


def random_latency_quantiles(lut, quantiles, draws: int = 4000, seed: int = 1234) -> list:
    """The LUT latency of uniformly random architectures at each quantile (4000 draws: the
    10th-90th percentiles to about ±0.5 %)."""
    rng = random.Random(seed)
    sample = sorted(lut.predict(random_choices(lut.slots, rng)) for _ in range(draws))
    return [sample[int(q * (len(sample) - 1))] for q in quantiles]


def time_checkpoints(checkpoints: dict, space: str, kwargs: dict, timing) -> dict:
    """Name -> ``Relative`` (ms, ci95) of each checkpoint's deployed network with onnxruntime,
    one thread, in one drift-proof run (``lib.latency.relative``: ratios to the space's
    first-candidate network re-timed between them), as the LUT builder times its blocks."""
    models = {}
    for name, path in checkpoints.items():
        model, arch, _ = subnet_from_checkpoint(path)
        models[name] = sessions_of("ort", DeployView(model.eval()),
                                   input_shape_of(arch["space"], arch["space_kwargs"]))
    reference = sessions_of("ort", subnet(space, kwargs), input_shape_of(space, kwargs))
    times, _ = time_relative(models, reference, timing, progress=True)
    return times


@contextmanager
def figure(path, size=(7, 4.5), ncols: int = 1):
    """The axes of a new figure (a row of ``ncols`` when more than one), saved to ``path``
    (120 dpi) when the block ends."""
    import matplotlib

    matplotlib.use("Agg")  # benches run headless
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, ncols, figsize=size)
    try:
        yield ax
        fig.tight_layout()
        fig.savefig(path, dpi=120)
    finally:
        plt.close(fig)
