"""`write_report`: the report of a run folder, rebuilt from its files alone.

``report/`` gets ``metrics.csv`` (one row per run), ``summary.md`` (methods compared, mean
and spread over seeds, and what GIT changed), ``curves.png`` (per-class eKLD against class
size), ``class_sizes.png`` and the generator's latest sample grid per seed.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import shutil
import statistics
from pathlib import Path
from typing import Any

from invtransfer.experiments.methods import GIT_SUFFIX

__all__ = ["COLUMNS", "method_table", "summary_rows", "write_report"]

log = logging.getLogger(__name__)

COLUMNS = (
    "balanced_accuracy", "many", "medium", "few", "mean_ekld", "tail_ekld", "spearman",
)  # fmt: skip
"""The figures of a run in the report: test accuracies (balanced and by shot group), the
mean eKLD over classes, that of the smallest third of the classes, and Spearman's
correlation between class size and per-class eKLD."""


def summary_rows(metrics: dict[str, Any]) -> dict[str, float]:
    """The `COLUMNS` of one run's ``metrics.json`` (NaN where there was no nuisance)."""
    accuracy = metrics["accuracy"]
    invariance = metrics.get("invariance", {}).get("summary", {})
    nan = float("nan")
    return {
        "balanced_accuracy": accuracy["balanced"],
        "many": accuracy["many"],
        "medium": accuracy["medium"],
        "few": accuracy["few"],
        "mean_ekld": invariance.get("mean", nan),
        "tail_ekld": invariance.get("tail_mean", nan),
        "spearman": invariance.get("spearman", nan),
    }


def write_report(out_dir: str | Path) -> Path:
    """Write ``out_dir/report/`` from ``out_dir/config.json`` and ``runs/*/metrics.json``.

    Raises:
        FileNotFoundError: ``out_dir`` has no finished runs.
    """
    out_dir = Path(out_dir)
    runs = [json.loads(p.read_text()) for p in sorted(out_dir.glob("runs/*/metrics.json"))]
    if not runs:
        raise FileNotFoundError(
            f"{out_dir}: expected finished runs in runs/*/metrics.json, found none"
        )
    config = json.loads((out_dir / "config.json").read_text())
    report = out_dir / "report"
    report.mkdir(exist_ok=True)
    _write_csv(report / "metrics.csv", runs)
    (report / "summary.md").write_text(_markdown(config, runs))
    _plot(report, runs)
    for grid in sorted(out_dir.glob("munit-seed*/samples")):
        latest = max(grid.glob("*.png"), default=None)
        if latest is not None:
            shutil.copyfile(latest, report / f"translations-{grid.parent.name}.png")
    return report


def method_table(
    runs: list[dict[str, Any]], order: list[str]
) -> dict[str, dict[str, tuple[float, float]]]:
    """Per method (in ``order``, those that ran), each column's mean and standard deviation
    over seeds (0 for one seed)."""
    by_method: dict[str, list[dict[str, float]]] = {m: [] for m in order}
    for run in runs:
        by_method.setdefault(run["method"], []).append(summary_rows(run))
    by_method = {method: rows for method, rows in by_method.items() if rows}
    return {
        method: {column: _mean_spread([row[column] for row in rows]) for column in COLUMNS}
        for method, rows in by_method.items()
    }


def _mean_spread(values: list[float]) -> tuple[float, float]:
    """Mean and standard deviation (0 for one value; NaN if any value is, e.g. the accuracy
    of an empty shot group)."""
    if any(math.isnan(v) for v in values):
        return math.nan, math.nan
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def _write_csv(path: Path, runs: list[dict[str, Any]]) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["method", "seed", *COLUMNS])
        for run in runs:
            writer.writerow([run["method"], run["seed"], *summary_rows(run).values()])


def _markdown(config: dict[str, Any], runs: list[dict[str, Any]]) -> str:
    table = method_table(runs, config["methods"])
    seeds = sorted({run["seed"] for run in runs})
    counts = runs[0]["class_counts"]
    data = config["data"]
    lines = [
        f"# {config['name']}",
        "",
        f"Data: `{data['recipe']}`, nuisance `{data['variant']}`; {len(counts)} classes of "
        f"{max(counts)} down to {min(counts)} training images ({sum(counts)} in all). "
        f"Model `{config['model']['name']}`, {config['train']['epochs']} epochs; seeds {seeds}.",
        "",
        "Test accuracy (balanced, and by shot group: many > 100, medium 20-100, few < 20 "
        "training images) and invariance (eKLD: lower is more invariant; tail = the smallest "
        "third of the classes; Spearman between class size and per-class eKLD), mean ± "
        "standard deviation over seeds:",
        "",
        "| method | " + " | ".join(COLUMNS) + " |",
        "| --- |" + " --- |" * len(COLUMNS),
    ]
    for method, columns in table.items():
        cells = [f"{mean:.3f} ± {spread:.3f}" for mean, spread in columns.values()]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    lines += ["", *_findings(table)]
    return "\n".join(lines) + "\n"


def _findings(table: dict[str, dict[str, tuple[float, float]]]) -> list[str]:
    """The paper's findings, checked: does eKLD rise as classes shrink (Spearman below
    -0.5), and what did adding GIT change, for every method run with and without it."""
    lines = ["## Findings", ""]
    for method, columns in table.items():
        rho = columns["spearman"][0]
        verdict = (
            "rises as classes shrink (below -0.5)"
            if rho < -0.5
            else "does NOT clearly rise as classes shrink (not below -0.5)"
        )
        lines.append(f"- {method}: Spearman(class size, eKLD) {rho:.3f}: eKLD {verdict}.")
    for method in table:
        base = method.removesuffix(GIT_SUFFIX)
        if method == base or base not in table:
            continue
        tail_before, tail_after = table[base]["tail_ekld"][0], table[method]["tail_ekld"][0]
        acc_before, acc_after = (
            table[base]["balanced_accuracy"][0], table[method]["balanced_accuracy"][0],
        )  # fmt: skip
        lines.append(
            f"- {method} vs {base}: tail eKLD {tail_before:.3f} -> {tail_after:.3f} "
            f"({'lower' if tail_after < tail_before else 'NOT lower'}), balanced accuracy "
            f"{acc_before:.3f} -> {acc_after:.3f} "
            f"({'higher' if acc_after > acc_before else 'NOT higher'})."
        )
    return lines


def _plot(report: Path, runs: list[dict[str, Any]]) -> None:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        log.warning("plots skipped: they need matplotlib (pip install 'invtransfer[plot]')")
        return
    counts = runs[0]["class_counts"]
    figure = Figure(figsize=(4.5, 3), layout="tight")
    ax = figure.subplots()
    ax.bar(range(len(counts)), sorted(counts, reverse=True))
    ax.set(yscale="log", xlabel="class (largest first)", ylabel="training images")
    figure.savefig(report / "class_sizes.png", dpi=120)
    curves = [run for run in runs if "invariance" in run]
    if not curves:
        return
    figure = Figure(figsize=(5.5, 3.8), layout="tight")
    ax = figure.subplots()
    for method in dict.fromkeys(run["method"] for run in curves):
        mine = [run["invariance"]["columns"] for run in curves if run["method"] == method]
        sizes = mine[0]["class_size"]
        means = [statistics.fmean(c["ekld_mean"][i] for c in mine) for i in range(len(sizes))]
        order = sorted(range(len(sizes)), key=sizes.__getitem__)
        ax.plot([sizes[i] for i in order], [means[i] for i in order], "o-", ms=3, label=method)
    ax.set(xscale="log", xlabel="training images in the class", ylabel="eKLD (mean over seeds)")
    ax.legend(fontsize=7)
    figure.savefig(report / "curves.png", dpi=120)
