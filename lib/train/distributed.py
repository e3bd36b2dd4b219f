"""Multi-process training on torch.distributed: one worker per device, started by torch's
elastic launcher (what ``torchrun`` runs) or by ``torchrun`` itself.

``--dev_id 0,1`` starts one NCCL worker per listed GPU; ``--dev_id cpu --nproc N`` starts N
gloo workers on the CPU. A process that finds torchrun's environment (``LOCAL_RANK``,
``WORLD_SIZE``) is already a worker and joins its group instead, so multi-node runs are plain
``torchrun --nnodes ...`` commands.
"""
from __future__ import annotations

import logging
import os
import signal
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

import torch
import torch.distributed as dist

from ..config.run import parse_dev_id
from .device import resolve_device
from .sync_bn import convert_batchnorm

log = logging.getLogger(__name__)
# how long a collective waits for its peers: the others wait in main_first while rank 0 alone
# generates or decodes the data, longer than NCCL's default 10 minutes on a large set (gloo's
# default is 30); the same explicit bound on both backends
TIMEOUT = timedelta(minutes=60)


class WorkerFailed(RuntimeError):
    """A worker process of a multi-process run failed (its message names rank and cause)."""


class PeerFailed(Exception):
    """Rank 0 failed (and reports why); this worker leaves without a word."""


class Interrupted(Exception):
    """SIGTERM/SIGINT stopped the run after a checkpoint was saved."""

    def __init__(self, signum: int, message: str = ""):
        self.signum = signum
        super().__init__(message or f"stopped by {signal.Signals(signum).name}")


def in_torchrun() -> bool:
    """True in a process started by torchrun or torch's elastic launcher."""
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


def requested_world(dev_id: str, nproc: int) -> int:
    """How many workers ``--dev_id``/``--nproc`` ask for (torchrun's world when under it)."""
    if in_torchrun():
        return int(os.environ["WORLD_SIZE"])
    devices = parse_dev_id(dev_id)
    if devices == ["cpu"]:
        return nproc
    if nproc not in (1, len(devices)):
        raise ValueError(f"--nproc {nproc} applies to --dev_id cpu; GPUs get one worker per "
                         f"listed id ({dev_id!r})")
    return len(devices)


@dataclass(frozen=True)
class Dist:
    """This process's place in the run, and the collectives the loops need. With one process
    every collective is the identity, so the loops have no single-process branches."""
    rank: int = 0
    world: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def main(self) -> bool:
        return self.rank == 0

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """All-reduce (sum) in place; returns the tensor (NCCL needs it on the device)."""
        if self.world > 1:
            on_device = tensor.to(self.device)
            dist.all_reduce(on_device)
            tensor.copy_(on_device)
        return tensor

    def mean(self, value: torch.Tensor) -> float:
        """Mean of a scalar over ranks (NaN anywhere makes it NaN everywhere)."""
        return float(self.sum(value.detach().double().reshape(1).clone())) / self.world

    def any(self, flag: bool) -> bool:
        if self.world == 1:  # no device round trip per batch
            return bool(flag)
        return bool(self.sum(torch.tensor([float(flag)], device=self.device)) > 0)

    def mean_grads(self, params) -> None:
        """Average the gradients of parameters DDP does not own (the architecture logits)."""
        if self.world == 1:
            return
        # θ is outside DDP (its own optimizer): averaged here, every rank takes the same θ
        # step and θ stays identical. One all-reduce of them all, not one per slot
        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.flatten() for g in grads])
        dist.all_reduce(flat)
        flat /= self.world
        for g, mean in zip(grads, flat.split([g.numel() for g in grads])):
            g.copy_(mean.view_as(g))

    def gather(self, obj) -> list:
        """Every rank's ``obj`` (picklable), in rank order."""
        if self.world == 1:
            return [obj]
        out = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    @contextmanager
    def main_first(self):
        """Rank 0 runs the block first (e.g. generates the synthetic data), then the rest.
        When it fails there, the others leave quietly: rank 0 reports the error."""
        if self.world == 1:
            yield
            return
        if self.main:
            try:
                yield
            except BaseException:
                dist.broadcast_object_list([True], src=0)
                raise
            dist.broadcast_object_list([False], src=0)
        else:
            failed = [None]
            dist.broadcast_object_list(failed, src=0)
            if failed[0]:
                raise PeerFailed
            yield

    def check_same(self, tensor: torch.Tensor, what: str) -> None:
        """Refuse to go on when ranks disagree on a tensor that must be identical."""
        copies = self.gather(tensor.detach().cpu())
        differing = [rank for rank, copy in enumerate(copies) if not torch.equal(copy, copies[0])]
        if differing:
            raise RuntimeError(f"{what} differs between rank 0 and ranks {differing}")

    def wrap(self, module: torch.nn.Module, sync_bn: bool, find_unused: bool):
        """``module`` for the training forward: DDP over the group (gradients averaged), its
        BatchNorms computing global-batch statistics when ``sync_bn``."""
        if self.world == 1:
            return module
        from torch.nn.parallel import DistributedDataParallel

        if sync_bn:
            convert_batchnorm(module)
        ids = [self.device.index] if self.device.type == "cuda" else None
        # hard Gumbel sampling runs one path: the other candidates get no gradient this step.
        # With global BN every rank computes the same running statistics: no buffer broadcast
        return DistributedDataParallel(module, device_ids=ids,
                                       find_unused_parameters=find_unused,
                                       forward_sync_buffers=not sync_bn)


def _worker_device(dev_id: str, local_rank: int, local_world: int) -> torch.device:
    text = str(dev_id).strip().lower()
    if text == "cpu":
        return torch.device("cpu")
    if text == "auto":  # one GPU per local rank, checked like an explicit id
        return resolve_device(str(local_rank)) if torch.cuda.is_available() \
            else torch.device("cpu")
    devices = parse_dev_id(dev_id)
    if len(devices) != local_world:
        raise ValueError(f"--dev_id {dev_id} lists {len(devices)} devices for "
                         f"{local_world} workers on this node")
    return resolve_device(devices[local_rank].split(":")[1])


def _use(device: torch.device, deterministic: bool) -> None:
    """Make ``device`` the current CUDA device (else allocations, NCCL and the pinned-memory
    thread go to GPU 0) and let cuDNN pick its fastest kernels: every candidate of a slot sees
    one fixed shape, so its autotuning runs once per shape."""
    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch.backends.cudnn.benchmark = not deterministic


def share_cores(local_world: int) -> None:
    """Split this node's cores between its workers, whatever their device: GPU workers run
    their loader and host-side work on these threads too. torchrun's command sets
    OMP_NUM_THREADS itself (then it stays); the elastic-launch API sets none."""
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // local_world))


def setup(dev_id: str, deterministic: bool = False) -> Dist:
    """Join the process group when this is a worker, else the single-process context."""
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # before CUDA starts
        torch.use_deterministic_algorithms(True, warn_only=True)  # e.g. bilinear backward
    if not in_torchrun():
        device = resolve_device(dev_id)
        _use(device, deterministic)
        return Dist(device=device)
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ["LOCAL_RANK"])
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    device = _worker_device(dev_id, local, local_world)
    _use(device, deterministic)  # before the process group: NCCL binds the current device
    share_cores(local_world)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=TIMEOUT,
                                device_id=device if device.type == "cuda" else None)
    return Dist(rank, world, device)


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def _worker(fn, cfg, level: int):
    """Entry point of a launched worker: logging (rank 0 only, below warnings), then ``fn``."""
    rank = int(os.environ["RANK"])
    logging.basicConfig(level=level if rank == 0 else logging.WARNING, force=True,
                        format=f"%(asctime)s %(levelname)s [rank {rank}] %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    try:
        return fn(cfg)
    except PeerFailed:
        raise SystemExit(1) from None
    except Interrupted as exc:  # the checkpoint is saved; say so once and exit as signalled
        if rank == 0:
            log.warning("%s", exc)
        # 128 + the signal's number: the shell's code for a process a signal ended
        raise SystemExit(128 + exc.signum) from None
    except (ValueError, FileNotFoundError) as exc:  # bad input: one line, not a traceback
        raise SystemExit(f"error: [rank {rank}] {exc}") from None


def launch(fn, cfg, world: int) -> dict:
    """Run ``fn(cfg)`` in ``world`` local workers through torch's elastic launcher (standalone
    rendezvous on a free port, as ``torchrun --standalone``); returns ``{rank: result}``."""
    from torch.distributed.elastic.multiprocessing import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    # port 0: the OS picks a free port, so two runs on one machine do not collide; no restarts:
    # a failed run resumes from its checkpoint when asked (--auto_resume)
    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=world,
                          rdzv_backend="c10d", rdzv_endpoint="localhost:0",
                          run_id=f"facenas-{uuid.uuid4().hex[:12]}", max_restarts=0)
    log.info("starting %d workers (%s)", world, cfg.dev_id)
    # the agent's own chatter: workers report their errors themselves
    quiet = [logging.getLogger(name) for name in ("torch.distributed.elastic",
                                                   "torchelastic-events-null",
                                                   "torch.multiprocessing.spawn")]
    levels = [logger.level for logger in quiet]
    for logger in quiet:
        logger.setLevel(logging.CRITICAL)
    try:
        return elastic_launch(config, _worker)(fn, cfg, logging.getLogger().getEffectiveLevel())
    except SignalException as exc:
        raise Interrupted(int(exc.sigval), f"stopped by {exc.sigval.name}; the workers saved "
                          "checkpoint_last.pth (resume with --auto_resume)") from None
    except ChildFailedError as exc:
        # a worker that printed its own error exited without an error file; the others then
        # fail in a collective whose peer is gone, which says nothing new
        reported = sorted(rank for rank, failure in exc.failures.items()
                          if not isinstance(failure.message, dict))
        if reported:
            raise WorkerFailed(f"worker {reported[0]} exited with code "
                               f"{exc.failures[reported[0]].exitcode} (the cause is above)") \
                from None
        rank, failure = exc.get_first_failure()  # an unexpected exception: keep its traceback
        stack = failure.message.get("extraInfo", {}).get("py_callstack", "")
        raise WorkerFailed(f"worker {rank} failed: {failure.message['message']}\n{stack}") \
            from None
    finally:
        for logger, level in zip(quiet, levels):
            logger.setLevel(level)


def launch_or_run(fn, cfg):
    """``fn(cfg)`` in this process, or in the workers ``--dev_id``/``--nproc`` ask for. Returns
    rank 0's result; None in the other ranks of a torchrun job (they print nothing)."""
    world = requested_world(cfg.dev_id, cfg.nproc)
    if world > 1 and not in_torchrun():
        return launch(fn, cfg, world)[0]
    result = fn(cfg)
    return result if int(os.environ.get("RANK", 0)) == 0 else None


@contextmanager
def distributed(cfg):
    """The run's :class:`Dist`, process group torn down at the end."""
    context = setup(cfg.dev_id, cfg.deterministic)
    try:
        yield context
    finally:
        teardown()
