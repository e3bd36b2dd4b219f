"""The CUDA-only paths, guarded on the CPU (docs/GPU.md): tensors made on the device of the
data they meet, every checkpoint load mapped (a checkpoint written on GPU 1 resumes here:
tests/test_resume.py), and device selection, the NCCL group, pinned batches and the
collectives with CUDA faked."""
import ast
from pathlib import Path

import pytest
import torch
import torch.distributed

from lib.train import distributed
from lib.train.batches import Batches
from lib.train.distributed import Dist, setup
from tests.conftest import ROOT

# torch functions that make a tensor (or a generator) on the default device unless told
FACTORIES = {"zeros", "ones", "full", "empty", "empty_strided", "tensor", "as_tensor", "arange",
             "linspace", "logspace", "eye", "rand", "randn", "randint", "randperm", "Generator"}
# where tensors meet the model's: training, supernet, losses, metrics, the cost term, the
# global BatchNorm and the collectives
SCANNED = ["lib/train/*.py", "lib/supernet/*.py", "lib/latency/cost.py", "lib/latency/table.py"]
# (file, function): why a tensor made on the CPU is right there
CPU_BY_DESIGN = {
    ("lib/train/batches.py", "_loader"): "data loading: batches move in to_device",
    ("lib/train/batches.py", "split_theta"): "data loading: sample indices",
    ("lib/train/sampling.py", "sample_subnets"): "Supernet.sample_archs draws on the CPU",
    ("lib/train/search.py", "__init__"): "the Gumbel generator: CPU, the same on every rank",
    ("lib/supernet/supernet.py", "sample"): "the Gumbel draw on the CPU generator, then moved",
    ("lib/supernet/supernet.py", "__init__"): "θ's parameters, moved with the module",
    ("lib/train/tasks.py", "trivial_predictor"): "fitted on loader batches, on the CPU",
    ("lib/train/tasks.py", "score"): "metrics on the host: predictions are moved there",
    ("lib/latency/table.py", "sum_entries"): "LUT predictions: host floats",
    ("lib/latency/table.py", "_slot_costs"): "LUT tables, moved once by the Searcher",
}


def _calls(path: Path) -> list:
    """(innermost enclosing function, or "<module>"; call node) of every call in ``path``."""
    found = []

    def visit(node, function):
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) \
                else function
            if isinstance(child, ast.Call):
                found.append((function, child))
            visit(child, inner)
    visit(ast.parse(path.read_text()), "<module>")
    return found


def _torch_call(node: ast.Call) -> str | None:
    """``name`` of a ``torch.name(...)`` call, else None."""
    func = node.func
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) \
            and func.value.id == "torch":
        return func.attr
    return None


def test_tensor_factories_take_the_device_of_the_data_they_meet():
    """On a GPU a tensor made without ``device=`` is a CPU tensor meeting CUDA ones (or a host
    copy each step); ``*_like`` factories inherit the device and pass."""
    found, used = [], set()
    for pattern in SCANNED:
        for path in sorted(ROOT.glob(pattern)):
            rel = str(path.relative_to(ROOT))
            for function, node in _calls(path):
                name = _torch_call(node)
                if name not in FACTORIES or any(k.arg == "device" for k in node.keywords):
                    continue
                if (rel, function) in CPU_BY_DESIGN:
                    used.add((rel, function))
                else:
                    found.append(f"{rel}:{node.lineno} {function}: torch.{name}, no device=")
    assert not found, "\n".join(found)
    assert used == set(CPU_BY_DESIGN), f"stale allow-list entries: {set(CPU_BY_DESIGN) - used}"


def test_every_torch_load_maps_its_tensors():
    """A checkpoint written on GPU 1 opened where there is none (or only GPU 0) fails in
    torch.load unless its storages are mapped."""
    paths = sorted(path for folder in ("lib", "tools", "bench")
                   for path in ROOT.glob(f"{folder}/**/*.py"))
    found = [f"{path.relative_to(ROOT)}:{node.lineno}" for path in paths
             for _, node in _calls(path)
             if _torch_call(node) == "load"
             and not any(k.arg == "map_location" for k in node.keywords)]
    assert not found, f"torch.load without map_location: {found}"


@pytest.fixture
def gpus(monkeypatch):
    """``gpus(n)``: this process sees ``n`` CUDA devices; returns the devices made current
    (``torch.cuda.set_device``), in order."""
    current = []
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)  # restored afterwards

    def install(count: int) -> list:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
        monkeypatch.setattr(torch.cuda, "set_device", lambda device: current.append(device))
        return current
    return install


@pytest.fixture
def torchrun(monkeypatch):
    """``torchrun(local_rank, local_world)``: the environment of a torchrun worker on one
    node, no process group joined yet."""
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: False)

    def install(local_rank: int, local_world: int) -> None:
        for name, value in (("LOCAL_RANK", local_rank), ("RANK", local_rank),
                            ("WORLD_SIZE", local_world), ("LOCAL_WORLD_SIZE", local_world)):
            monkeypatch.setenv(name, str(value))
    return install


def test_a_gpu_worker_binds_its_device_before_nccl_and_shares_the_cores(gpus, torchrun,
                                                                         monkeypatch):
    current, calls, threads = gpus(2), [], []
    torchrun(1, 2)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # the elastic launcher sets none
    monkeypatch.setattr(distributed.os, "cpu_count", lambda: 16)
    monkeypatch.setattr(torch, "set_num_threads", threads.append)
    monkeypatch.setattr(torch.distributed, "init_process_group",
                        lambda backend, **kwargs: calls.append((backend, kwargs, list(current))))
    context = setup("0,1")
    assert context.device == torch.device("cuda:1") and (context.rank, context.world) == (1, 2)
    (backend, kwargs, current_then), = calls
    assert backend == "nccl" and current_then == [torch.device("cuda:1")]  # bound first
    assert kwargs["device_id"] == torch.device("cuda:1")
    assert kwargs["timeout"] == distributed.TIMEOUT  # explicit, not NCCL's 10 minutes
    assert threads == [8]  # the node's 16 cores between its 2 workers
    assert torch.backends.cudnn.benchmark  # fixed shapes: autotuned once each


def test_auto_under_torchrun_refuses_more_local_ranks_than_gpus(gpus, torchrun):
    gpus(1)
    torchrun(1, 2)
    with pytest.raises(ValueError, match="no such CUDA device on this machine"):
        setup("auto")


def test_a_single_process_on_gpu_n_makes_it_the_current_device(gpus, monkeypatch):
    current = gpus(2)
    for name in ("LOCAL_RANK", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert setup("1").device == torch.device("cuda:1")
    assert current == [torch.device("cuda:1")]  # else the pinned-memory thread uses GPU 0
    assert torch.backends.cudnn.benchmark


def test_loaders_pin_their_batches_for_a_gpu_only():
    data = torch.utils.data.TensorDataset(torch.zeros(8, 1))
    assert Batches(data, 4, Dist(device=torch.device("cuda:0")), seed=0).loader.pin_memory
    assert not Batches(data, 4, Dist(), seed=0).loader.pin_memory


def test_theta_gradients_are_averaged_in_one_collective_and_none_with_one_process(monkeypatch):
    reduced = []

    def all_reduce(tensor, *args, **kwargs):  # two ranks with equal gradients: sum = 2 x
        reduced.append((tensor.numel(), tensor.device))
        tensor.mul_(2)
    monkeypatch.setattr(torch.distributed, "all_reduce", all_reduce)
    params = [torch.nn.Parameter(torch.zeros(n)) for n in (2, 3, 4)]
    for n, p in enumerate(params):
        p.grad = torch.arange(float(p.numel())) + n
    expected = [p.grad.clone() for p in params]
    Dist(0, 2).mean_grads(params + [torch.nn.Parameter(torch.zeros(1))])  # one without grad
    assert reduced == [(9, torch.device("cpu"))]  # flattened: one all-reduce, not one per slot
    assert all(torch.equal(p.grad, e) for p, e in zip(params, expected))
    reduced.clear()
    one = Dist()
    assert one.any(True) and not one.any(False)
    one.mean_grads(params)
    assert not reduced  # one process: no collective, no device round trip
