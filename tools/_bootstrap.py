"""Makes ``lib`` importable when a tool is run as ``python tools/x.py`` and sets up logging."""
import logging
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def setup_logging(verbose: bool = False, progress: bool = True) -> None:
    if not progress:
        os.environ["TQDM_DISABLE"] = "1"  # tqdm reads it as the default for every bar
    rank = os.environ.get("RANK", "0")  # under torchrun only rank 0 reports progress
    level = logging.DEBUG if verbose else logging.INFO
    logging.basicConfig(level=level if rank == "0" else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")


def launch(config_cls, run, argv, doc: str):
    """A training tool's start: its options (``lib.config``), logging, then ``run`` in this
    process or in one worker per device. Returns ``run``'s result on rank 0, None on the other
    ranks of a torchrun job (they report nothing)."""
    from lib.config import parse_config
    from lib.train import launch_or_run

    cfg = parse_config(config_cls, argv, doc.splitlines()[0])
    setup_logging(progress=cfg.progress)
    return launch_or_run(run, cfg)


def run_main(main, extra_errors=()) -> int:
    """Run a tool's ``main()``. Bad input (ValueError, which the project's data, checkpoint
    and LUT errors derive from, FileNotFoundError, a failed worker, and ``extra_errors``)
    prints one ``error:`` line and exits 1 instead of a traceback; anything else is a bug and
    keeps it. A run stopped by SIGTERM/SIGINT (checkpoint saved) exits 128 + the signal."""
    from lib.train.distributed import Interrupted, WorkerFailed

    try:
        return main()
    except Interrupted as exc:
        print(str(exc), file=sys.stderr)
        return 128 + exc.signum
    except (ValueError, FileNotFoundError, WorkerFailed, *extra_errors) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
