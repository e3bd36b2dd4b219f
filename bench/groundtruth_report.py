"""``bench/groundtruth.py --report``: what a space's tables say.

- The learning-curve study (``curves/<space>_<dataset>_e<E>.json``): per architecture the test
  metric at each epoch count (seed mean and sd) and, per doubling, the move of that mean
  against the seed sd; the PNG ``docs/groundtruth_<space>_curves.png``.
- The table: the seed sd (pooled over architectures), the spread of architecture means over
  all and inside each matched window, and the share of a window's pairs whose means differ by
  more than twice the seed sd (pairs the table tells apart).

Writes ``output/bench/groundtruth_<space>_<dataset>.json`` and prints a summary last."""
from __future__ import annotations

import statistics

import _common
from groundtruth_stats import arch_means, seed_sd, spread
from groundtruth_table import Table

def curve_tables(inst, args) -> dict[int, Table]:
    folder = args.folder / "curves"
    found = {}
    for path in sorted(folder.glob(f"{inst.space}_{inst.dataset}_e*.json")):
        found[int(path.stem.rsplit("_e", 1)[1])] = Table.load(path)
    return dict(sorted(found.items()))


def curves(tables: dict[int, Table]) -> dict:
    """Per epoch count: per architecture the seed mean and sd, the pooled seed sd; per
    doubling: each architecture's move and whether it is below one seed sd."""
    out = {"epochs": {}, "doublings": []}
    for epochs, table in tables.items():
        values = arch_means(table.runs, "test")
        out["epochs"][epochs] = {
            "seed_sd": seed_sd(values),
            "archs": {a: {"mean": statistics.fmean(v), "runs": v} for a, v in values.items()},
            "wall_s": statistics.fmean(r["wall_s"] for r in table.runs) if table.runs else None}
    counts = list(out["epochs"])
    for short, long in zip(counts, counts[1:]):
        a, b = out["epochs"][short], out["epochs"][long]
        # the noise of the longer recipe (where both are known, the larger: the rule must
        # not pass a doubling because one side's seeds happened to agree)
        sds = [s for s in (a["seed_sd"], b["seed_sd"]) if s is not None]
        sd = max(sds) if sds else None
        moves = {arch: b["archs"][arch]["mean"] - a["archs"][arch]["mean"]
                 for arch in a["archs"] if arch in b["archs"]}
        out["doublings"].append({
            "from": short, "to": long, "seed_sd": sd, "moves": moves,
            "converged": None if sd is None or not moves or len(moves) < len(a["archs"])
            else all(abs(m) < sd for m in moves.values())})
    return out


def plot_curves(tables: dict[int, Table], study: dict, path, metric: str) -> None:
    with _common.figure(path, size=(11, 4.5), ncols=2) as (ax, right):
        price = {a: info["predicted"] for t in tables.values() for a, info in t.archs.items()}
        archs = sorted(price, key=price.get)
        colours = dict(zip(archs, ["tab:blue", "tab:orange", "tab:red", "tab:green"]))
        for arch in archs:
            xs = [e for e, s in study["epochs"].items() if arch in s["archs"]]
            ax.plot(xs, [study["epochs"][e]["archs"][arch]["mean"] for e in xs], "o-",
                    color=colours[arch], label=f"{arch} (LUT {price[arch]:.3g})")
            for e in xs:
                runs = study["epochs"][e]["archs"][arch]["runs"]
                ax.plot([e] * len(runs), runs, ".", color=colours[arch], alpha=0.5)
        for epochs, table in tables.items():
            style = {0: ":", 1: "--"}.get(list(tables).index(epochs), "-")
            for run in table.runs:
                history = run["history"]
                right.plot([h[0] for h in history], [h[2] for h in history], style,
                           color=colours[run["arch"]], alpha=0.6, lw=1)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("epochs (cosine schedule to zero over each)")
        ax.set_ylabel(f"test {metric} (dots: seeds)")
        ax.legend(title="cheapest / median / dearest")
        right.set_xlabel("epoch")
        right.set_ylabel(f"validation {metric}")
        right.set_title("each run (line style: its epoch count)", fontsize=9)


def table_summary(table: Table) -> dict:
    values = arch_means(table.runs, "test")
    sd = seed_sd(values)
    means = {a: statistics.fmean(v) for a, v in values.items()}
    windows = {name: spread({a: means[a] for a in members if a in means}, sd)
               for name, members in table.windows().items()}
    return {"runs": len(table.runs), "planned": sum(i["seeds"] for i in table.archs.values()),
            "seed_sd": sd, "all": spread(means, sd), "windows": windows,
            "wall_s": sum(r["wall_s"] for r in table.runs)}


def _fmt(value, digits=4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def report(inst, args) -> dict:
    metric = inst.task.metric
    result = {"space": inst.space, "dataset": inst.dataset, "metric": metric,
              "machine": _common.machine()}
    tables = curve_tables(inst, args)
    if tables:
        study = result["curves"] = curves(tables)
        png = args.docs / f"groundtruth_{inst.space}_curves.png"
        plot_curves(tables, study, png, metric)
        result["curves_png"] = str(png)
        for epochs, s in study["epochs"].items():
            cells = ", ".join(f"{a} {_fmt(v['mean'])} (n {len(v['runs'])})"
                              for a, v in s["archs"].items())
            print(f"{epochs:4d} epochs: seed sd {_fmt(s['seed_sd'])}; {cells}")
        for d in study["doublings"]:
            moves = ", ".join(f"{a} {m:+.4f}" for a, m in d["moves"].items())
            print(f"{d['from']} -> {d['to']} epochs: {moves} against seed sd "
                  f"{_fmt(d['seed_sd'])}: converged {d['converged']}")
    suffix = "_gpu" if args.scale == "gpu" else ""
    path = args.folder / f"{inst.space}_{inst.dataset}{suffix}.json"
    if path.is_file():
        s = result["table"] = table_summary(Table.load(path))
        print(f"{path.name}: {s['runs']}/{s['planned']} runs; seed sd {_fmt(s['seed_sd'])}; "
              f"architecture means sd {_fmt(s['all']['sd'])} over {s['all']['n']}, pairs "
              f"apart {_fmt(s['all']['pairs_apart'], 2)}")
        for name, w in s["windows"].items():
            print(f"  window {name}: {w['n']} architectures, means {_fmt(w['min'])}-"
                  f"{_fmt(w['max'])} (sd {_fmt(w['sd'])}), pairs more than 2 seed sd apart: "
                  f"{_fmt(w['pairs_apart'], 2)}")
    out = _common.write_result(f"groundtruth_{inst.space}_{inst.dataset}{suffix}", result,
                               args.out)
    print(f"wrote {out}")
    return result
