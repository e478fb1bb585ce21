"""`write_report`: the report of a study folder, rebuilt from its files alone.

``report/`` gets ``metrics.csv`` (one row per run), ``summary.md`` and the figures:

- every method's figures as means over the replicates (seeds and class orders) with 95%
  t intervals, or ``n = 1`` where there is one replicate;
- invariance against class size with the per-class points of every replicate pooled: a
  Spearman correlation with an interval that resamples replicates, and eKLD by shot group;
- paired comparisons (the config's ``comparisons``, by default `comparisons`: each method
  against CE, each ``+git`` method against its base): per-replicate differences, their mean
  and 95% interval, and a finding worded from the interval;
- the generator's quality per replicate (class keeping, nuisance coverage, a translation
  grid);
- ``curves.png`` (per-class eKLD against class size on a log axis: points with their
  intervals and a binned trend), ``class_sizes.png`` and ``translations-{replicate}.png``.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from invtransfer._paths import inside, write_bytes, write_text
from invtransfer._validation import instance
from invtransfer.experiments.methods import GIT_SUFFIX
from invtransfer.labels import shot_groups
from invtransfer.metrics import (
    Interval,
    PairedDifference,
    mean_interval,
    paired_difference,
    pooled_spearman,
    size_trend,
)

__all__ = [
    "COLUMNS",
    "comparisons",
    "compare_runs",
    "method_table",
    "study_summary",
    "summary_rows",
    "write_report",
]

log = logging.getLogger(__name__)

COLUMNS = (
    "balanced_accuracy", "many", "medium", "few",
    "mean_ekld", "tail_ekld", "tail_consistency", "spearman",
)  # fmt: skip
"""The figures of a run in the report: test accuracies (balanced and by shot group), the
mean eKLD over classes, the eKLD and prediction consistency of the smallest third of the
classes, and Spearman's correlation between class size and per-class eKLD."""

_COMPARED = {
    "tail_ekld": ("lower", "higher"),
    "mean_ekld": ("lower", "higher"),
    "tail_consistency": ("lower", "higher"),
    "balanced_accuracy": ("lower", "higher"),
    "few": ("lower", "higher"),
}
"""The columns a paired comparison reports (``few``: few-shot accuracy), with the words for
a difference below and above 0."""

_SPREADS = ("generator_spread", "family_spread", "ratio")
"""The nuisance coverage figures in the generator quality table."""


def summary_rows(metrics: dict[str, Any]) -> dict[str, float]:
    """The `COLUMNS` of one run's ``metrics.json`` (NaN where there was no nuisance)."""
    accuracy = metrics["accuracy"]
    invariance = metrics.get("invariance")
    nan = float("nan")
    trend: dict[str, float] = invariance["summary"] if invariance else {}
    return {
        "balanced_accuracy": accuracy["balanced"],
        "many": accuracy["many"],
        "medium": accuracy["medium"],
        "few": accuracy["few"],
        "mean_ekld": trend.get("mean", nan),
        "tail_ekld": trend.get("tail_mean", nan),
        "tail_consistency": _tail_consistency(invariance) if invariance else nan,
        "spearman": trend.get("spearman", nan),
    }


def method_table(runs: list[dict[str, Any]], order: list[str]) -> dict[str, dict[str, Interval]]:
    """Per method (in ``order``, those that ran), each column's mean over its runs with a 95%
    t interval (``n = 1`` for one run; NaN columns, such as an empty shot group, left out).

    Examples:
        >>> run = lambda seed, acc: {"method": "ce", "seed": seed, "accuracy": dict(
        ...     balanced=acc, many=acc, medium=acc, few=float("nan"))}
        >>> table = method_table([run(0, 0.5), run(1, 0.7)], ["ce"])
        >>> str(table["ce"]["balanced_accuracy"]), table["ce"]["few"].n
        ('0.600 [-0.671, 1.871]', 0)
    """
    by_method: dict[str, list[dict[str, float]]] = {m: [] for m in order}
    for run in instance("runs", runs, list):
        by_method.setdefault(run["method"], []).append(summary_rows(run))
    return {
        method: {column: mean_interval([row[column] for row in rows]) for column in COLUMNS}
        for method, rows in by_method.items()
        if rows
    }


def comparisons(methods: Sequence[str]) -> list[tuple[str, str]]:
    """The pairs ``(before, after)`` a report compares: each method against CE, and each
    ``+git`` method against its base, for the methods that ran.

    Examples:
        >>> comparisons(["ce", "ce_drs", "ce_drs+git"])
        [('ce', 'ce_drs'), ('ce', 'ce_drs+git'), ('ce_drs', 'ce_drs+git')]
    """
    pairs = [("ce", m) for m in methods if m != "ce" and "ce" in methods]
    pairs += [
        (m.removesuffix(GIT_SUFFIX), m)
        for m in methods
        if m.endswith(GIT_SUFFIX) and m.removesuffix(GIT_SUFFIX) in methods
        and m.removesuffix(GIT_SUFFIX) != "ce"
    ]  # fmt: skip
    return pairs


def compare_runs(
    runs: list[dict[str, Any]], before: str, after: str, column: str
) -> PairedDifference:
    """The paired difference ``after - before`` of ``column`` (one of `COLUMNS`) over the
    replicates where both methods ran: what the report states, for your own runs.

    Each run is a ``metrics.json`` document (``method``, ``seed``, ``order``, ``accuracy``,
    ``invariance``), as `run_experiment` returns them.

    Examples:
        >>> run = lambda method, seed, acc: {"method": method, "seed": seed, "accuracy": dict(
        ...     balanced=acc, many=acc, medium=acc, few=acc)}
        >>> runs = [run("ce", s, 0.50 + s / 100) for s in range(4)]
        >>> runs += [run("ce_drs", s, 0.55 + s / 90) for s in range(4)]
        >>> difference = compare_runs(runs, "ce", "ce_drs", "balanced_accuracy")
        >>> print(difference, difference.finding())
        0.052 [0.049, 0.054] higher, CI excludes 0
    """
    if column not in COLUMNS:
        raise ValueError(f"column: expected one of {COLUMNS}, received {column!r}")
    values = {
        (run["method"], _replicate(run)): summary_rows(run)[column]
        for run in runs
        if run["method"] in (before, after)
    }
    shared = sorted({r for m, r in values if m == before} & {r for m, r in values if m == after})
    return paired_difference(
        [values[before, r] for r in shared], [values[after, r] for r in shared]
    )


def write_report(out_dir: str | Path) -> Path:
    """Write ``out_dir/report/`` from ``config.json``, ``runs/*/metrics.json`` and
    ``quality/*.json``: ``summary.md`` (as `study_summary` returns it), ``metrics.csv`` and
    the figures.

    Every file is read and written inside ``out_dir`` only: a symbolic link that leads out
    (a linked ``report/``, ``report/summary.md`` or ``quality/*-grid.png``) is refused, and
    each file is replaced atomically, never written through a link.

    Raises:
        FileNotFoundError: ``out_dir`` has no finished runs.
        ValueError: a file or folder read or written leads out of ``out_dir``.
        OSError: ``out_dir/report`` cannot be written (read-only, full); the message names
            the file.
    """
    out_dir = Path(out_dir)
    config, runs, quality = _study(out_dir)
    report = inside(out_dir, out_dir / "report")
    write_text(report / "metrics.csv", _csv(runs), out_dir)
    write_text(report / "summary.md", _markdown(config, runs, quality), out_dir)
    _plot(_Figures(out_dir, report), runs, config["methods"], out_dir / "quality", quality)
    return report


def study_summary(out_dir: str | Path) -> str:
    """The report's ``summary.md`` as text, read from ``out_dir`` without writing anything,
    so a finished study on a read-only disk can still be reported: e.g.
    ``print(study_summary("runs/demo-quick"))``.

    Raises:
        FileNotFoundError: ``out_dir`` has no finished runs.
        ValueError: a file read leads out of ``out_dir``.
    """
    return _markdown(*_study(Path(out_dir)))


def _study(out_dir: Path) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """The study's config, its finished runs' metrics and its generators' quality."""
    runs = [_read_json(out_dir, p) for p in sorted(out_dir.glob("runs/*/metrics.json"))]
    if not runs:
        raise FileNotFoundError(
            f"{out_dir}: expected finished runs in runs/*/metrics.json, found none"
        )
    config = _read_json(out_dir, out_dir / "config.json")
    quality = {p.stem: _read_json(out_dir, p) for p in sorted(out_dir.glob("quality/*.json"))}
    return config, runs, quality


class _Figures:
    """Where figures go: ``report/NAME``, written as `write_bytes` writes (inside the study
    folder, atomically, never through a link); source images are read from inside it too."""

    def __init__(self, out_dir: Path, report: Path) -> None:
        self.out_dir, self.report = out_dir, report

    def save(self, figure: Any, name: str, **options: Any) -> None:
        image = io.BytesIO()
        figure.savefig(image, format="png", **options)
        write_bytes(self.report / name, image.getvalue(), self.out_dir)

    def source(self, path: Path) -> Path:
        return inside(self.out_dir, path)


def _read_json(out_dir: Path, path: Path) -> Any:
    """A JSON file of the study folder (one that leads out of it is refused)."""
    return json.loads(inside(out_dir, path).read_text())


def _replicate(run: dict[str, Any]) -> str:
    """A run's replicate: its seed and class order."""
    return run.get("replicate", f"seed{run['seed']}")


def _tail_consistency(invariance: dict[str, Any]) -> float:
    columns = invariance["columns"]
    evaluated = torch.tensor(columns["images"]) > 0
    sizes = torch.tensor(columns["class_size"])[evaluated]
    return size_trend(sizes, torch.tensor(columns["consistency_mean"])[evaluated])["tail_mean"]


def _csv(runs: list[dict[str, Any]]) -> str:
    """``metrics.csv``: one row per run."""
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(["method", "seed", "order", *COLUMNS])
    for run in runs:
        row = summary_rows(run).values()
        writer.writerow([run["method"], run["seed"], run.get("order"), *row])
    return text.getvalue()


def _markdown(
    config: dict[str, Any], runs: list[dict[str, Any]], quality: dict[str, dict[str, Any]]
) -> str:
    methods = [m for m in config["methods"] if any(run["method"] == m for run in runs)]
    replicates = sorted({_replicate(run) for run in runs})
    counts = runs[0]["class_counts"]
    data = config["data"]
    orders = sorted(order for order in {run.get("order") for run in runs} if order is not None)
    lines = [
        f"# {config['name']}",
        "",
        f"Data: `{data['recipe']}`, nuisance `{data['variant']}`; {len(counts)} classes of "
        f"{max(counts)} down to {min(counts)} training images ({sum(counts)} in all). "
        f"Model `{config['model']['name']}`, {config['train']['epochs']} epochs. "
        f"{len(replicates)} replicate{'s' * (len(replicates) > 1)}: seeds "
        f"{sorted({run['seed'] for run in runs})}"
        + (f", class orders {orders} (which class gets which size)." if orders else "."),
        "",
        *_method_section(runs, methods, len(replicates)),
        *_trend_section(runs, methods),
        *_comparison_section(runs, methods, config.get("comparisons")),
        *_quality_section(quality),
    ]
    return "\n".join(lines) + "\n"


def _method_section(runs: list[dict[str, Any]], methods: list[str], replicates: int) -> list[str]:
    table = method_table(runs, methods)
    lines = [
        "## Methods",
        "",
        "Test accuracy (balanced, and by shot group: many > 100, medium 20-100, few < 20 "
        "training images) and invariance (eKLD: lower is more invariant; tail = the smallest "
        "third of the classes; consistency: the share of transformed copies predicted as the "
        "clean image; Spearman between class size and per-class eKLD): mean over "
        + (
            f"the {replicates} replicates [95% t interval]."
            if replicates > 1
            else "one replicate (n = 1: no interval; run more seeds for one)."
        ),
        "",
        "| method | " + " | ".join(COLUMNS) + " |",
        "| --- |" + " --- |" * len(COLUMNS),
    ]
    for method, columns in table.items():
        lines.append(f"| {method} | " + " | ".join(_cell(c) for c in columns.values()) + " |")
    return [*lines, ""]


def _trend_section(runs: list[dict[str, Any]], methods: list[str]) -> list[str]:
    curves = _pooled_points(runs, methods)
    if not curves:
        return []
    lines = [
        "## Invariance against class size",
        "",
        "The per-class points of every replicate pooled (with class orders, class size and "
        "class identity are apart): Spearman between class size and eKLD with a 95% interval "
        "that resamples replicates, and the mean eKLD by shot group (classes pooled).",
        "",
        "| method | pooled Spearman | many | medium | few | finding |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for method, (sizes, values) in curves.items():
        rho = pooled_spearman(sizes, values)
        groups = _group_means(torch.cat(sizes), torch.cat(values))
        lines.append(
            f"| {method} | {_cell(rho)} | " + " | ".join(groups) + f" | {_trend_finding(rho)} |"
        )
    return [*lines, ""]


def _comparison_section(
    runs: list[dict[str, Any]], methods: list[str], named: list[list[str]] | None
) -> list[str]:
    pairs = comparisons(methods) if named is None else [(a, b) for a, b in named]
    if not pairs:
        return []
    lines = [
        "## Paired comparisons",
        "",
        "Per replicate, the second method's figure minus the first's; the mean difference "
        "[95% paired t interval] and what the interval shows (`few`: few-shot accuracy).",
        "",
        "| comparison | " + " | ".join(_COMPARED) + " |",
        "| --- |" + " --- |" * len(_COMPARED),
    ]
    findings = []
    for before, after in pairs:
        differences = {c: compare_runs(runs, before, after, c) for c in _COMPARED}
        cells = [_statement(d, *_COMPARED[c]) for c, d in differences.items()]
        lines.append(f"| {after} vs {before} | " + " | ".join(cells) + " |")
        tail, accuracy = differences["tail_ekld"], differences["balanced_accuracy"]
        findings.append(
            f"- {after} vs {before}: tail eKLD {_statement(tail)}; balanced accuracy "
            f"{_statement(accuracy)}."
        )
    return [*lines, "", "## Findings", "", *findings, ""]


def _quality_section(quality: dict[str, dict[str, Any]]) -> list[str]:
    if not quality:
        return []
    lines = [
        "## Generator quality",
        "",
        "Class keeping: the judge (a classifier trained without the generator) on held-out "
        "test images and on translations of them. Coverage: the spread (standard deviation "
        "per image) of the nuisance statistic across style codes against its spread across "
        "the real family's draws on the same images (ratio 1: as much variation as the data).",
        "",
        "| replicate | judge | accuracy on images | on translations | statistic of | "
        "generator spread | family spread | ratio |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, measured in quality.items():
        keeping, coverage = measured["class_keeping"], measured["coverage"]
        spread = (
            [coverage["family"], *(f"{coverage[k]:.3f}" for k in _SPREADS)]
            if coverage else ["-"] * 4
        )  # fmt: skip
        lines.append(
            f"| {name} | {measured['judge']} | {keeping['accuracy_on_images']:.3f} | "
            f"{keeping['accuracy_on_translations']:.3f} | " + " | ".join(spread) + " |"
        )
    kept = [q["class_keeping"] for q in quality.values()]
    images = mean_interval([k["accuracy_on_images"] for k in kept])
    translated = mean_interval([k["accuracy_on_translations"] for k in kept])
    ratios = mean_interval([q["coverage"]["ratio"] for q in quality.values() if q["coverage"]])
    lines += [
        f"| mean | | {_cell(images)} | {_cell(translated)} | | | | {_cell(ratios)} |",
        "",
        *(f"![translations {name}](translations-{name}.png)" for name in quality),
        "",
    ]
    return lines


def _pooled_points(
    runs: list[dict[str, Any]], methods: list[str]
) -> dict[str, tuple[list[torch.Tensor], list[torch.Tensor]]]:
    """Per method with curves, each replicate's (class sizes, per-class eKLD) of the
    evaluated classes."""
    pooled: dict[str, tuple[list[torch.Tensor], list[torch.Tensor]]] = {}
    for method in methods:
        for run in runs:
            if run["method"] != method or "invariance" not in run:
                continue
            columns = run["invariance"]["columns"]
            evaluated = torch.tensor(columns["images"]) > 0
            sizes, values = pooled.setdefault(method, ([], []))
            sizes.append(torch.tensor(columns["class_size"])[evaluated])
            values.append(torch.tensor(columns["ekld_mean"], dtype=torch.float64)[evaluated])
    return pooled


def _group_means(sizes: torch.Tensor, values: torch.Tensor) -> list[str]:
    """The mean of ``values`` in each shot group (many, medium, few) and the points in it."""
    groups = shot_groups(sizes)
    return [
        f"{float(values[groups == g].mean()):.3f} ({int((groups == g).sum())} points)"
        if bool((groups == g).any()) else "-"
        for g in range(3)
    ]  # fmt: skip


def _trend_finding(rho: Interval) -> str:
    if rho.n < 2:
        return "n = 1 replicate: no interval"
    if rho.high < 0:
        return "eKLD rises as classes shrink (interval below 0)"
    if rho.low > 0:
        return "eKLD falls as classes shrink (interval above 0)"
    return "no detectable trend with class size (interval includes 0)"


def _cell(interval: Interval) -> str:
    if interval.n == 0 or math.isnan(interval.mean):
        return "-"
    if interval.n < 2:
        return f"{interval.mean:.3f} (n = 1)"
    return f"{interval.mean:.3f} [{interval.low:.3f}, {interval.high:.3f}]"


def _statement(difference: PairedDifference, lower: str = "lower", higher: str = "higher") -> str:
    """A paired difference and what its interval shows, in words."""
    d = difference
    if d.n < 2:
        return f"{d.mean:+.3f} (n = {d.n}, no interval)" if d.n else "-"
    return f"{d.finding(lower, higher)}: {d.mean:+.3f} [{d.low:+.3f}, {d.high:+.3f}], n = {d.n}"


def _plot(
    figures: _Figures,
    runs: list[dict[str, Any]],
    methods: list[str],
    quality_dir: Path,
    quality: dict[str, dict[str, Any]],
) -> None:
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
    figures.save(figure, "class_sizes.png", dpi=120)
    _plot_curves(Figure, figures, runs, methods)
    for name, measured in quality.items():
        _plot_grid(Figure, figures, quality_dir / f"{name}-grid.png", measured["grid"], name)


def _plot_curves(
    figure_type: Callable[..., Any],
    figures: _Figures,
    runs: list[dict[str, Any]],
    methods: list[str],
) -> None:
    """One panel per method: every replicate's per-class eKLD with its interval, and the mean
    in log-size bins (a trend line through bins, never through tied sizes)."""
    curves = [m for m in methods if any(r["method"] == m and "invariance" in r for r in runs)]
    if not curves:
        return
    figure = figure_type(figsize=(3.2 * len(curves), 3.2), layout="tight")
    axes = figure.subplots(1, len(curves), sharey=True, squeeze=False)[0]
    for ax, method in zip(axes, curves, strict=True):
        sizes, means, lows, highs = [], [], [], []
        for run in runs:
            if run["method"] == method and "invariance" in run:
                columns = run["invariance"]["columns"]
                for i, images in enumerate(columns["images"]):
                    if images:
                        sizes.append(columns["class_size"][i])
                        means.append(columns["ekld_mean"][i])
                        lows.append(columns["ekld_low"][i])
                        highs.append(columns["ekld_high"][i])
        errors = [
            [m - lo for m, lo in zip(means, lows, strict=True)],
            [hi - m for m, hi in zip(means, highs, strict=True)],
        ]
        ax.errorbar(sizes, means, yerr=errors, fmt="o", ms=2.5, alpha=0.45, lw=0.6,
                    label="class (one per order)")  # fmt: skip
        centres, binned = _log_bins(torch.tensor(sizes, dtype=torch.float64),
                                    torch.tensor(means, dtype=torch.float64))  # fmt: skip
        ax.plot(centres, binned, "s-", color="black", ms=4, label="mean per log-size bin")
        ax.set(xscale="log", xlabel="training images in the class", title=method)
    axes[0].set_ylabel("eKLD (per class)")
    axes[0].legend(fontsize=7)
    figures.save(figure, "curves.png", dpi=120)


def _log_bins(sizes: torch.Tensor, values: torch.Tensor, bins: int = 6) -> tuple[list, list]:
    """Bin centres (geometric) and mean values of up to ``bins`` log-spaced size bins."""
    logs = sizes.log()
    edges = torch.linspace(float(logs.min()), float(logs.max()) + 1e-9, bins + 1)
    which = torch.bucketize(logs, edges[1:-1], right=True)
    centres, means = [], []
    for b in range(bins):
        inside = which == b
        if bool(inside.any()):
            centres.append(float(logs[inside].mean().exp()))
            means.append(float(values[inside].mean()))
    return centres, means


def _plot_grid(
    figure_type: Callable[..., Any],
    figures: _Figures,
    source: Path,
    grid: dict[str, Any],
    name: str,
) -> None:
    """``translations-{name}.png``: the translation grid with the source column framed and
    each row's class and size."""
    if not source.is_file():
        return
    source = figures.source(source)
    from matplotlib.image import imread
    from matplotlib.patches import Rectangle

    image = imread(source)
    rows = len(grid["classes"])
    cell = image.shape[0] / rows
    figure = figure_type(figsize=(image.shape[1] / 40 + 1.6, image.shape[0] / 40 + 0.6))
    ax = figure.subplots()
    ax.imshow(image, cmap="gray", interpolation="nearest")
    ax.add_patch(Rectangle((0.5, 0.5), cell - 1, image.shape[0] - 1, fill=False, ec="red", lw=1.5))
    ax.set_yticks([cell * (r + 0.5) for r in range(rows)])
    ax.set_yticklabels(
        [f"class {c} ({n})" for c, n in zip(grid["classes"], grid["sizes"], strict=True)],
        fontsize=7,
    )
    ax.set_xticks([cell * 0.5, cell * 1.5, cell * 4])
    ax.set_xticklabels(["source", "own style", "random styles →"], fontsize=7)
    ax.set_title(f"{name}: translations (class and training images per row)", fontsize=8)
    figures.save(figure, f"translations-{name}.png", dpi=120, bbox_inches="tight")
