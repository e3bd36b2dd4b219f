"""A measurement kit: every model a LUT needs timed, exported for a device that has neither
torch nor this project (a phone, an ARM board), and the import of its timings into a LUT.

    DIR/manifest.json          space, kwargs, fingerprint, threads, precision, timing, the
                               plan (build.plan: which model is which entry, calibration or
                               held-out subnet) and ``models``: id, role, input shape, sha256
    DIR/onnx/<id>.onnx         static shape, batch 1 (onnxruntime)
    DIR/mnn/<id>.mnn           the same, converted (MNN; the folder holds nothing else because
                               MNN's benchmark.out times every file in the folder it is given)
    DIR/run_kit.py, relative.py, runtimes.py
                               the drift-proof timing of this project, numpy + a runtime only
    DIR/results.json           what run_kit.py writes

The import takes run_kit.py's ``results.json`` or the text output of MNN's ``benchmark.out``
(its ``[ - ] <id>.mnn  max = … ms  min = … ms  avg = … ms`` rows; ``quant-<id>.mnn`` rows
with ``int8``), builds the LUT as ``build_lut`` does (build.assemble: entries, calibration on
the kit's calibration subnets), and scores it on the held-out subnets.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from ..atomic import atomic_write_text
from ..spaces import full_kwargs
from .build import assemble, plan, subnet
from .lut_file import check_lut
from .measure import backend_version, export_onnx_bytes
from .ranking import prediction_scores
from .relative import Timing
from .slots import fingerprint, input_shape_of, names_instance, trace_slots, why_not_instance

# the manifest's layout version; a kit of another version is refused, never half-read
KIT_FORMAT = 1
MANIFEST = "manifest.json"
RUNNER = ("run_kit.py", "relative.py", "runtimes.py")  # copied from lib/latency/
# benchmark.out's row, printf("[ - ] %-24s    max = %8.3f ms  min = %8.3f ms  avg = %8.3f ms")
ROW = re.compile(r"^\[ - \] (?P<name>\S+)\s+max =\s*(?P<max>[\d.]+) ms\s+min =\s*"
                 r"(?P<min>[\d.]+) ms\s+avg =\s*(?P<avg>[\d.]+) ms\s*$")
# "Forward type: CPU thread=4 precision=0 ...", or "**CPU** thread=4** precision=0" (older)
HEADER = re.compile(r"Forward type: \**(?P<forward>[^* ]+)\** thread=(?P<threads>\d+)\** "
                    r"precision=(?P<precision>\d+)")
LOOPS = re.compile(r"Benchmarking\.\.\. loop = (?P<loop>\d+), warmup = (?P<warmup>\d+)")


log = logging.getLogger(__name__)


class KitError(ValueError):
    """A kit or its results that cannot make a LUT; the message names the file and why."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def export_kit(folder, space: str, space_kwargs: dict, threads: int = 1,
               timing: Timing = Timing(), calib_archs: int = 10, holdout: int = 20,
               seed: int = 0, context: bool = False, progress: bool = True) -> dict:
    """Write the kit for this space instance into ``folder`` (which must not exist: a kit is
    never half-updated) and return its manifest."""
    from .mnn import mnn_available

    folder = Path(folder)
    if folder.exists():
        raise KitError(f"{folder}: already exists; a kit is written into a new folder")
    if not mnn_available():
        raise KitError("the kit's .mnn files need the MNN package (pip install MNN)")
    needed, models = plan(space, space_kwargs, calib_archs, seed, context, holdout)
    models["reference"] = (subnet(space, space_kwargs), input_shape_of(space, space_kwargs))
    roles = {"reference": "reference", **{c["id"]: "calibration" for c in needed["calibration"]},
             **{h["id"]: "holdout" for h in needed["holdout"]},
             **{s["id"]: "swap" for s in needed["swaps"]}}
    # staged beside the target and renamed when complete: a kit folder is either
    # whole or absent, and a crashed export only leaves a hidden .partial
    staging = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        manifest = _write_kit(staging, space, space_kwargs, threads, timing, needed, models,
                              roles, progress)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)  # nothing half-written stays behind
        raise
    staging.rename(folder)
    return manifest


def _write_kit(staging: Path, space, space_kwargs, threads, timing, needed, models, roles,
               progress) -> dict:
    from .mnn import convert_onnx_to_mnn

    (staging / "onnx").mkdir(parents=True)
    (staging / "mnn").mkdir()
    listed = []
    for name, (module, shape) in tqdm(models.items(), desc="kit", disable=not progress):
        onnx_path = staging / "onnx" / f"{name}.onnx"
        onnx_path.write_bytes(export_onnx_bytes(module, shape))
        mnn_path = convert_onnx_to_mnn(onnx_path, staging / "mnn" / f"{name}.mnn")
        listed.append({"id": name, "role": roles.get(name, "block"), "input_shape": list(shape),
                       "onnx_sha256": _sha256(onnx_path), "mnn_sha256": _sha256(mnn_path)})
    # the kit's identity is its models' hashes: run_kit.py's results carry it, so timings of
    # another kit (or of a re-export with other weights) cannot be imported here
    kit_id = hashlib.sha256(json.dumps([(m["id"], m["onnx_sha256"]) for m in listed])
                            .encode()).hexdigest()[:16]
    manifest = {
        "format": KIT_FORMAT, "kit": kit_id, "space": space,
        "space_kwargs": full_kwargs(space, space_kwargs),
        "fingerprint": fingerprint(space, space_kwargs, trace_slots(space, space_kwargs)),
        "threads": threads, "dtype": "float32",
        # benchmark.out's precision argument: 0 (Normal) keeps fp32 on the CPU; its default
        # 2 (Low) runs fp16 where the CPU and the build allow it (ARMv8.2, MNN_ARM82=ON)
        "mnn_benchmark_precision": 0,
        "timing": asdict(timing), "backends": ["ort", "mnn"],
        # what exported and converted the files (a device runtime much older than the
        # converter may not read them)
        "backend_versions": {b: backend_version(b) for b in ("ort", "mnn")},
        "plan": needed, "models": listed,
    }
    atomic_write_text(staging / MANIFEST, json.dumps(manifest, indent=1) + "\n")
    here = Path(__file__).parent
    for name in RUNNER:
        shutil.copy(here / name, staging / name)
    return manifest


def read_manifest(folder) -> dict:
    path = Path(folder) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise KitError(f"{path}: cannot read the kit's manifest: {exc}") from exc
    if manifest.get("format") != KIT_FORMAT:
        raise KitError(f"{path}: kit format {manifest.get('format')!r}, expected {KIT_FORMAT}")
    return manifest


def read_results(path, manifest: dict, int8: bool = False) -> tuple[dict, dict]:
    """``({id: ms}, how it was measured)`` from run_kit.py's JSON or benchmark.out's text."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise KitError(f"{path}: cannot read results: {exc}") from exc
    if text.lstrip().startswith("{"):
        if int8:
            raise KitError(f"{path}: int8 rows come from benchmark.out "
                           f"(testQuantizedModel=1), not from run_kit.py")
        return _read_json(path, text, manifest)
    return _read_benchmark_out(path, text, int8)


def _read_json(path: Path, text: str, manifest: dict) -> tuple[dict, dict]:
    try:
        results = json.loads(text)
        kit = (results.get("kit"), results.get("fingerprint"))
    except (json.JSONDecodeError, AttributeError) as exc:
        raise KitError(f"{path}: not run_kit.py results: {exc!r}") from exc
    if kit != (manifest["kit"], manifest["fingerprint"]):
        raise KitError(f"{path}: results of kit {kit[0]!r} (fingerprint {kit[1]!r}), not of "
                       f"this kit {manifest['kit']!r} ({manifest['fingerprint']!r})")
    try:
        values = {name: float(m["ms"]) for name, m in results["models"].items()}
        device = results.get("device", {})
        return values, {"backend": results["backend"],
                        "backend_version": results["backend_version"],
                        "threads": results["threads"], "statistic": results["statistic"],
                        "timing": results["timing"], "reference": results["reference"],
                        "host_cpu": device.get("cpu", "unknown"), "device": device}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise KitError(f"{path}: not run_kit.py results: {exc!r}") from exc


def _read_benchmark_out(path: Path, text: str, int8: bool) -> tuple[dict, dict]:
    values, header, loops = {}, None, None
    for number, line in enumerate(text.splitlines(), 1):
        line = line.rstrip()
        header = header or HEADER.search(line)
        loops = loops or LOOPS.search(line)
        if not line.startswith("[ - ]"):
            continue  # banners, [-INFO-] lines, the device's feature report
        row = ROW.match(line)
        if not row:
            raise KitError(f"{path}:{number}: not a benchmark.out result row: {line!r}")
        name = row["name"]
        # with testQuantizedModel=1 every model has an fp32
        # row and a quant- row: keep the kind asked for
        if name.startswith("quant-") != int8:
            continue
        name = name.removeprefix("quant-").removesuffix(".mnn")
        if name in values:
            raise KitError(f"{path}:{number}: {name} appears twice")
        values[name] = float(row["min"])
    if header is None:
        raise KitError(f"{path}: no 'Forward type: ... thread=N precision=P' line: not the "
                       f"output of MNN's benchmark.out")
    loop = f"{loops['loop']} runs after {loops['warmup']} warm-up" if loops else "its runs"
    precision = int(header["precision"])
    # precision 2 (Low, benchmark.out's default) is fp16 on ARMv8.2 CPUs in an MNN_ARM82
    # build; 0 (Normal) and 1 (High) keep fp32
    dtype = "int8" if int8 else "float16 where the CPU has it" if precision == 2 else "float32"
    return values, {
        "backend": "mnn", "backend_version": "MNN benchmark.out",
        "forward": header["forward"], "threads": int(header["threads"]),
        "mnn_precision": precision, "dtype": dtype,
        # the fastest run: benchmark.out times the models one after another (not drift-proof),
        # and the minimum is the figure least moved by what else the device does meanwhile
        "statistic": f"benchmark.out min of {loop} (input and output copies included)",
        "host_cpu": "unknown (benchmark.out does not say)"}


def import_kit(folder, results_path, int8: bool = False, linear: bool = True) -> tuple[dict, dict]:
    """``(lut, fidelity)``: the LUT from a kit's timings, and its scores on the held-out
    subnets. Every problem is listed before anything is written."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    space, kwargs = manifest["space"], manifest["space_kwargs"]
    slots = trace_slots(space, kwargs)
    if not names_instance(manifest, space, kwargs, slots):
        raise KitError(f"{folder / MANIFEST}: the kit's fingerprint {manifest['fingerprint']} "
                       f"is not the space's {fingerprint(space, kwargs, slots)} in this code ("
                       f"{why_not_instance(manifest, space, kwargs)}); export a new kit")
    values, how = read_results(results_path, manifest, int8)
    for name, want in (("threads", manifest["threads"]), ("dtype", manifest["dtype"])):
        # a warning, not an error: a device run at other settings is
        # still a valid table of those settings, and the LUT records them
        if how.get(name, want) != want and not (name == "dtype" and int8):
            log.warning("%s: %s %s, the kit's is %s; the LUT records what was measured",
                        results_path, name, how[name], want)
    problems = []
    ids = [m["id"] for m in manifest["models"]]
    if len(set(ids)) != len(ids):
        problems.append(f"{folder / MANIFEST}: duplicate model ids")
    missing = [name for name in ids if name not in values]
    if missing:
        problems.append(f"{results_path}: {len(missing)} of the kit's {len(ids)} models have "
                        f"no time: {', '.join(missing)}")
    unknown = sorted(set(values) - set(ids))
    if unknown:
        problems.append(f"{results_path}: models not in the kit: {', '.join(unknown)}")
    backend = how["backend"]
    kind = "mnn" if backend == "mnn" else "onnx"
    for model in manifest["models"]:
        file = folder / kind / f"{model['id']}.{kind}"
        if not file.is_file():
            problems.append(f"{file}: missing (cannot check it is the model that was timed)")
        elif _sha256(file) != model[f"{kind}_sha256"]:
            problems.append(f"{file}: changed since the kit was exported (sha256)")
    # `not v > 0` also catches NaN, which `v <= 0` would let through
    bad = [name for name, v in values.items() if not v > 0]
    if bad:
        problems.append(f"{results_path}: times that are not positive: {', '.join(bad)}")
    if problems:
        raise KitError("cannot import the kit's results:\n  " + "\n  ".join(problems))
    if "reference" not in how:  # benchmark.out: the reference is one more model
        how["reference"] = {"ms": values["reference"]}
    how = {**how, "kit": manifest["kit"], "unit": "ms"}
    lut = assemble(space, kwargs, manifest["plan"], values, how, linear)
    table = check_lut(lut, space, kwargs, str(results_path))
    held = manifest["plan"]["holdout"]
    # held-out subnets took no part in the fit: their scores
    # are the table's fidelity on models it has not seen
    measured = [values[h["id"]] for h in held]
    predicted = [table.predict(h["choices"]) for h in held]
    return lut, ({"n": len(held), **prediction_scores(predicted, measured)} if held else {})
