"""``--lut``: a table file, ``auto`` (the table whose fingerprint matches the space at hand)
or ``flops`` (MACs, counted now)."""
from __future__ import annotations

import logging
from pathlib import Path

from .build import build_lut, host_cpu
from .lut_file import check_lut, find_lut, load_lut
from .measure import backend_version
from .table import LatencyTable

log = logging.getLogger(__name__)


def resolve_lut(spec: str, space: str, space_kwargs: dict, folders=()) -> LatencyTable:
    """The table ``spec`` names for this space instance; ``folders`` are searched after
    ``lut/`` by ``auto``. Warns once when the table was timed on another CPU or backend
    version: its numbers describe that machine, not this one."""
    if spec == "flops":
        # counting is exact and quick, so the table is made on the spot;
        # one calibration model gives the fixed part exactly (whole-model
        # MACs minus the entries' sum: the stem's and head's count)
        lut = build_lut(space, space_kwargs, backend="flops", calib_archs=1, progress=False)
        return check_lut(lut, space, space_kwargs, "flops table")
    path = find_lut(space, space_kwargs, folders) if spec == "auto" else Path(spec)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such LUT; build one with tools/build_lut.py, "
                                "or pass --lut auto or --lut flops")
    table = load_lut(path, space, space_kwargs)
    meta = table.metadata
    if meta.get("backend") not in (None, "flops"):
        here = {"host_cpu": host_cpu(), "backend_version": _version(meta["backend"])}
        differ = [f"{key} {meta.get(key)!r} (here {value!r})" for key, value in here.items()
                  if meta.get(key) != value]
        if differ:
            log.warning("%s was measured with %s: its latencies describe that machine; "
                        "build a table here with tools/build_lut.py", path, ", ".join(differ))
    return table


def _version(backend: str) -> str | None:
    try:
        return backend_version(backend)
    except ImportError:  # the runtime is not installed here
        return None
