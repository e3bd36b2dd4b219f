import subprocess
import sys

import onnx
import pytest
import torch

from lib.export import ParityError, export_and_verify, mnn_available
from lib.export.onnx_export import OUTPUT_NAMES
from lib.spaces import get_space, list_spaces, make_arch
from lib.supernet import Supernet, build_subnet
from tests.conftest import ROOT

needs_mnn = pytest.mark.skipif(not mnn_available(), reason="MNN is not installed")


def _argmax_subnet(name):
    kwargs = dict(get_space(name).tiny_kwargs)
    net = Supernet(name, kwargs)
    return build_subnet(make_arch(name, kwargs, net.derive())), kwargs


@pytest.mark.parametrize("name", list_spaces())
def test_onnx_export_parity_and_graph_contract(name, tmp_path):
    model, kwargs = _argmax_subnet(name)
    report = export_and_verify(model, tmp_path, kwargs["img_size"], mnn=False, runs=5)
    assert report["ort_max_abs_diff"] <= 1e-4
    graph = onnx.load(report["onnx"])
    assert [i.name for i in graph.graph.input] == ["input"]
    task = get_space(name).builder.task
    assert [o.name for o in graph.graph.output] == [OUTPUT_NAMES[task]]  # aux: training-only
    if task == "segmentation":  # bilinear resizes exported as static Resize ops
        assert any(node.op_type == "Resize" for node in graph.graph.node)
        out = [d.dim_value for d in graph.graph.output[0].type.tensor_type.shape.dim]
        assert out == [1, kwargs["num_classes"], kwargs["img_size"], kwargs["img_size"]]
    assert graph.opset_import[0].version == 13
    dims = [d.dim_value for d in graph.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 3, kwargs["img_size"], kwargs["img_size"]]  # static
    assert not list(tmp_path.glob(".*"))  # no temp files left behind


@needs_mnn
@pytest.mark.parametrize("name", list_spaces())
def test_mnn_round_trip(name, tmp_path):
    model, kwargs = _argmax_subnet(name)
    report = export_and_verify(model, tmp_path, kwargs["img_size"], mnn=True, runs=5)
    assert report["mnn_max_abs_diff"] <= 1e-3 and report["mnn_bytes"] > 0
    assert "MNN.tools" not in sys.modules


class BakedConstant(torch.nn.Module):
    """Tracing freezes the Python float into the graph: ONNX disagrees on any other input."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        landmarks, pose = self.model(x)
        return landmarks + float(x.mean()), pose


def test_broken_model_fails_parity_loudly(tmp_path):
    model, kwargs = _argmax_subnet("pfld_fbnet")
    with pytest.raises(ParityError, match="onnxruntime: max abs diff"):
        export_and_verify(BakedConstant(model), tmp_path, kwargs["img_size"], mnn=False, runs=5)


def test_importing_the_project_never_imports_mnn_tools_or_installs():
    code = ("import sys, importlib, pkgutil, lib\n"
            "for m in pkgutil.walk_packages(lib.__path__, 'lib.'):\n"
            "    importlib.import_module(m.name)\n"
            "from lib.latency import mnn\n"
            "print('MNN.tools' in sys.modules)\n")
    freeze = [sys.executable, "-m", "pip", "freeze"]
    before = subprocess.run(freeze, capture_output=True, text=True).stdout
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "False"
    assert subprocess.run(freeze, capture_output=True, text=True).stdout == before
