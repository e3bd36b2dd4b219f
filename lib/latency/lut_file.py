"""The LUT file: format version, where tables live, saving, and loading with checks
against the space at hand."""
from __future__ import annotations

import json
from pathlib import Path

from ..atomic import atomic_write_text
from ..spaces import list_spaces, short_kwargs
from .slots import (fingerprint, names_instance, op_slots, slot_entries, trace_slots,
                    why_not_instance)
from .table import LatencyTable

# the JSON layout's version: check_lut refuses a table
# of another version instead of misreading its entries
FORMAT = 1
# resolved from this file, not the working directory,
# so tools find the shipped tables from any folder
LUT_DIR = Path(__file__).resolve().parents[2] / "lut"


class LUTMismatchError(ValueError):
    def __init__(self, source, problems: list[str]):
        self.problems = problems
        super().__init__(f"{source}: LUT does not match the space:\n  " + "\n  ".join(problems))


def default_lut_path(space: str, img_size: int, backend: str = "ort", threads: int = 1) -> Path:
    # the name says space, size, backend and threads but not the space kwargs: two
    # instances can share it, which is why find_lut matches fingerprints, not names
    return LUT_DIR / f"{space}_{img_size}_{backend}_t{threads}.json"


def save_lut(lut: dict, path) -> None:
    # atomic (temp file + rename): a build killed while
    # writing leaves the old table, never a truncated JSON
    atomic_write_text(Path(path), json.dumps(lut, indent=1) + "\n")


def check_lut(lut: dict, space: str, space_kwargs: dict, source="LUT") -> LatencyTable:
    """Validate a LUT dict against a space instance; raise LUTMismatchError listing problems."""
    slots = trace_slots(space, space_kwargs)
    meta = lut.get("metadata", {})
    problems = []
    if lut.get("format") != FORMAT:
        problems.append(f"format {lut.get('format')!r}, expected {FORMAT}")
    if meta.get("space") != space:
        problems.append(f"built for space {meta.get('space')!r}, not {space!r}")
    elif not names_instance(meta, space, space_kwargs, slots):
        problems.append(f"fingerprint {meta.get('fingerprint')!r} != space's "
                        f"{fingerprint(space, space_kwargs, slots)!r}: "
                        + why_not_instance(meta, space, space_kwargs))
    entries = lut.get("entries", {})
    missing = [key for label, info in op_slots(slots).items()
               for *_, key in slot_entries(label, info, slots) if key not in entries]
    # a table of another shape misses thousands of keys;
    # five show the pattern without flooding the error
    problems += [f"missing entry {key}" for key in missing[:5]]
    if len(missing) > 5:
        problems.append(f"... and {len(missing) - 5} more missing entries")
    # predict() adds the fixed part (stem, head, per-model overhead) to every architecture
    if "value" not in lut.get("fixed", {}):
        problems.append("missing the fixed-part cost")
    if problems:
        raise LUTMismatchError(source, problems)
    return LatencyTable(meta, entries, lut["fixed"], slots)


def same_table(meta: dict, table: LatencyTable, space: str, space_kwargs: dict) -> bool:
    """Whether ``meta`` (a checkpoint's record of its LUT) describes ``table``: the same backend
    and build time (flops tables have none: counted anew each run) for this space instance
    (a checkpoint from before the canonical kwargs holds the older hash)."""
    when = [(m.get("backend"), None if m.get("backend") == "flops" else m.get("date"))
            for m in (meta, table.metadata)]
    return when[0] == when[1] and names_instance(meta, space, space_kwargs, table.slots)


def load_lut(path, space: str, space_kwargs: dict | None = None) -> LatencyTable:
    path = Path(path)
    try:
        lut = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        # a clear error naming the file, not a traceback from inside json
        raise ValueError(f"{path}: cannot read LUT: {exc}") from exc
    return check_lut(lut, space, dict(space_kwargs or {}), str(path))


def find_lut(space: str, space_kwargs: dict, folders=(), backend: str = "ort",
             threads: int = 1) -> Path:
    """The table for this space instance: the LUT in ``lut/`` (then in ``folders``) whose
    fingerprint matches it, preferring ``backend`` with ``threads``. File names are not
    trusted: two instances of a space at one image size share a default name."""
    slots = trace_slots(space, space_kwargs)
    matches, others = [], []
    for folder in (LUT_DIR, *map(Path, folders)):
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
            try:
                meta = json.loads(path.read_text()).get("metadata", {})
            except (OSError, ValueError, AttributeError):
                continue  # not a LUT
            if names_instance(meta, space, space_kwargs, slots):
                matches.append((meta.get("backend") != backend, meta.get("threads") != threads,
                                path))
            elif meta.get("space") in list_spaces():  # in its shortest spelling, comparable
                others.append(f"{path}: {meta['space']} "
                              f"{short_kwargs(meta['space'], meta.get('space_kwargs'))}")
    if matches:
        # False sorts first: a matching backend wins, then matching threads, then the path's name
        return min(matches)[2]
    kwargs = json.dumps(short_kwargs(space, space_kwargs))
    raise FileNotFoundError(
        f"no LUT for {space} {kwargs} in {', '.join(map(str, (LUT_DIR, *folders)))}; "
        + ("tables there are for:\n  " + "\n  ".join(others) + "\n" if others else "")
        + f"build one on this machine with: python tools/build_lut.py --space {space} "
          f"--space_kwargs '{kwargs}' --backend {backend} --threads {threads} "
          f"(or pass --lut flops)")
