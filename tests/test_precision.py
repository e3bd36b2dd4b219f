"""Loader workers and mixed precision: augmentation keyed by (seed, pass, index), the same
batches with any number of workers; --amp and --channels_last through a search and a retrain
(bf16 and fp16 autocast run on the CPU too, so the paths are exercised without a GPU)."""
import os

import pytest
import torch

from lib.config import RetrainConfig, SearchConfig
from lib.data import ensure_synthetic, landmark_splits
from lib.spaces import get_space
from lib.train import load_checkpoint, run_retrain, run_search
from lib.train.batches import Batches, fetch
from lib.train.distributed import distributed
from lib.train.precision import Precision

TINY = dict(get_space("pfld_fbnet").tiny_kwargs)


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    return ensure_synthetic(tmp_path_factory.mktemp("data") / "synthetic", 112,
                            {"train": 40, "val": 8, "test": 8}, seed=1)


def test_augmentation_depends_on_seed_pass_and_index_only(faces):
    train = landmark_splits("synthetic", faces, 106, 96, seed=0, augment=True)["train"]
    first = fetch(train, 3, draw=1)[0]
    torch.manual_seed(123)  # the global RNG plays no part
    assert torch.equal(fetch(train, 3, draw=1)[0], first)
    assert not torch.equal(fetch(train, 3, draw=2)[0], first)  # another pass, another draw
    other = landmark_splits("synthetic", faces, 106, 96, seed=1, augment=True)["train"]
    assert not torch.equal(fetch(other, 3, draw=1)[0], first)


def test_the_loader_gives_the_same_batches_with_any_number_of_workers(faces):
    train = landmark_splits("synthetic", faces, 106, 96, seed=0, augment=True)["train"]
    cfg = SearchConfig(dev_id="cpu", data_root=str(faces))
    with distributed(cfg) as dist:
        runs = [list(Batches(train, 8, dist, seed=0, workers=n).epoch(2, skip=1))
                for n in (0, 2)]
    assert len(runs[0]) == len(runs[1]) > 0
    for a, b in zip(*runs):
        assert all(torch.equal(x, y) for x, y in zip(a, b))


class _Pids(torch.utils.data.Dataset):
    """Each sample is the id of the process that loaded it."""

    def __len__(self):
        return 16

    def __getitem__(self, _index):
        return torch.tensor(os.getpid())


def test_loader_workers_persist_across_passes(faces):
    """Starting workers for every pass cost more than a small pass's batches: the ones that
    loaded pass 0 load pass 1 too, and they are not the training process."""
    cfg = SearchConfig(dev_id="cpu", data_root=str(faces))
    with distributed(cfg) as dist:
        batches = Batches(_Pids(), 4, dist, seed=0, workers=2)
        passes = [{int(pid) for batch in batches.epoch(n) for pid in batch} for n in (0, 1)]
    assert passes[0] == passes[1] and len(passes[0]) == 2 and os.getpid() not in passes[0]


def test_scaled_gradients_match_and_overflow_skips():
    x = torch.tensor([1e-3, 2.0], requires_grad=True)
    for amp in ("off", "fp16"):
        (grad,) = Precision(amp, False, torch.device("cpu")).grad((x ** 2).sum(), [x])
        assert torch.allclose(grad, 2 * x.detach())
    assert Precision("fp16", False, torch.device("cpu")).grad(x.sum() * float("inf"), [x]) \
        is None


def test_a_theta_overflow_before_any_scaled_step_halves_the_scale():
    """The first weight step skipped as non-finite, then θ's first gradient overflows: the
    scaler has never scaled, and backing off must still halve its scale (it asserted)."""
    precision = Precision("fp16", False, torch.device("cpu"))
    start = precision.scaler.get_scale()
    precision.back_off()
    assert precision.scaler.get_scale() == start / 2
    weight = torch.nn.Parameter(torch.ones(2))
    precision.step((weight * 3).sum(), torch.optim.SGD([weight], lr=0.1))
    assert torch.allclose(weight.detach(), torch.full((2,), 0.7))  # unscaled gradient 3
    restored = Precision("fp16", False, torch.device("cpu"))
    restored.load_state_dict(precision.state_dict())  # the checkpointed scale
    assert restored.scaler.get_scale() == precision.scaler.get_scale()


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_search_and_retrain_run_under_amp_and_channels_last(faces, tmp_path, amp):
    common = dict(dev_id="cpu", data_root=str(faces), snapshot=str(tmp_path), batch_size=8,
                  progress=False, amp=amp, channels_last=True, workers=1)
    result = run_search(SearchConfig(space_kwargs={"stages": TINY["stages"]}, num_points=106,
                                     img_size=96, lut="flops", epochs=2, warmup_epochs=0,
                                     tlr=0.5, **common))
    ckpt = load_checkpoint(result.out_dir / "checkpoint_last.pth")
    assert ckpt["config"]["amp"] == amp and "scaler" in ckpt
    assert all(v.dtype == torch.float32 for v in ckpt["model"].values()
               if v.is_floating_point())  # weights and θ stay float32
    assert any(float(t.abs().max()) > 0 for t in result.theta.values())  # θ trained
    retrained = run_retrain(RetrainConfig(supernet=str(result.out_dir / "checkpoint_last.pth"),
                                          epochs=1, **common))
    assert retrained.best is not None
