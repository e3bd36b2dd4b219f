import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TQDM_DISABLE", "1")
torch.set_num_threads(2)

from lib.spaces import get_space, list_spaces  # noqa: E402


@pytest.fixture(params=list_spaces())
def space(request):
    """(name, tiny kwargs) for every registered space."""
    return request.param, dict(get_space(request.param).tiny_kwargs)


def tiny_input(kwargs, batch=2):
    size = kwargs.get("img_size", 112)
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(0))


def run_tool(name: str, *args, cwd=ROOT, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run ``tools/<name>`` in a fresh interpreter, as a user would."""
    return subprocess.run([sys.executable, str(ROOT / "tools" / name), *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=timeout)
