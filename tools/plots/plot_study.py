#!/usr/bin/python3
"""Plots of a study report (experiments/study_runner/report.h), from the CSVs the report writes into DIR.

    /usr/bin/python3 tools/plots/plot_study.py DIR

Reads DIR/curves.csv, DIR/fits.csv, DIR/lipschitz.csv, DIR/gradient_noise.csv; writes, per workload (slug "mnist_simple_cnn_sgd"):
  DIR/plots/<slug>_steps.png       (a) steps-to-result vs batch size, log-log, one curve per sparsity, the fitted
                                       S_min (1 + B_crit / B) dashed, regime as marker shape; a compared run dotted
  DIR/plots/<slug>_normalized.png  (b) the same divided by each curve's smallest-batch value
  DIR/plots/<slug>_lipschitz.png   (c) L over training per sparsity (only if measured)
  DIR/plots/<slug>_noise.png       (e) B_simple over training per sparsity, with each curve's fitted B_crit as a
                                       horizontal line (only if the noise was measured)
  DIR/plots/<slug>_prediction.png  (d) predicted (dense x L ratio) vs observed steps (only if predicted)
"""
import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

REGIME_MARKERS = {"PERFECT_SCALING": "o", "DIMINISHING_RETURNS": "s", "MAXIMAL_DATA_PARALLELISM": "^", "": "x"}
REGIME_LABELS = {"PERFECT_SCALING": "perfect scaling", "DIMINISHING_RETURNS": "diminishing returns",
                 "MAXIMAL_DATA_PARALLELISM": "maximal data parallelism", "": "no fit"}
DPI = 150


def read_csv(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def slug(workload):
    return workload.replace("/", "_")


def group(rows, key):
    out = {}
    for row in rows:
        out.setdefault(key(row), []).append(row)
    return out


def finish(ax, title, xlabel, ylabel, path, legend_extra=None):
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if legend_extra:
        handles += legend_extra
        labels += [h.get_label() for h in legend_extra]
    if handles:
        ax.legend(handles, labels, fontsize=8)
    ax.figure.tight_layout()
    ax.figure.savefig(path, dpi=DPI)
    plt.close(ax.figure)


def regime_legend():
    return [plt.Line2D([], [], color="gray", marker=m, linestyle="", label=REGIME_LABELS[r])
            for r, m in REGIME_MARKERS.items() if r]


def plot_steps(workload, curves, fits, out, normalized):
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    colors = {}
    run = [r for r in curves if r["source"] == "run"]
    compare = [r for r in curves if r["source"] == "compare"]
    for i, (sparsity, rows) in enumerate(sorted(group(run, lambda r: float(r["sparsity"])).items())):
        color = "C%d" % (i % 10)
        colors[sparsity] = color
        rows.sort(key=lambda r: float(r["batch_size"]))
        b = [float(r["batch_size"]) for r in rows]
        s = [float(r["steps"]) for r in rows]
        scale = s[0] if normalized else 1.0
        ax.plot(b, [v / scale for v in s], "-", color=color, label="sparsity %g" % sparsity)
        for bi, si, r in zip(b, s, rows):
            ax.plot([bi], [si / scale], REGIME_MARKERS.get(r["regime"], "x"), color=color, markersize=6)
        fit = fits.get(sparsity)
        if fit is not None:
            s_min, b_crit = float(fit["min_steps"]), float(fit["critical_batch_size"])
            n = 100
            grid = [b[0] * (b[-1] / b[0]) ** (k / (n - 1)) for k in range(n)] if len(b) > 1 else b
            ax.plot(grid, [s_min * (1 + b_crit / g) / scale for g in grid], "--", color=color, alpha=0.7,
                    label="fit sparsity %g: S_min=%.3g, B_crit=%.3g" % (sparsity, s_min, b_crit))
    for i, (sparsity, rows) in enumerate(sorted(group(compare, lambda r: float(r["sparsity"])).items())):
        rows.sort(key=lambda r: float(r["batch_size"]))
        b = [float(r["batch_size"]) for r in rows]
        s = [float(r["steps"]) for r in rows]
        scale = s[0] if normalized else 1.0
        ax.plot(b, [v / scale for v in s], ":", marker=".", color=colors.get(sparsity, "C%d" % (i + 5)),
                label="compared run, sparsity %g" % sparsity)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    name = "normalized" if normalized else "steps"
    finish(ax, "%s: steps-to-result vs batch size%s" % (workload, " (normalized)" if normalized else ""),
           "batch size B", "steps / steps at smallest B" if normalized else "steps to result",
           os.path.join(out, "%s_%s.png" % (slug(workload), name)), regime_legend())


def plot_lipschitz(workload, rows, out):
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    for i, (sparsity, rs) in enumerate(sorted(group(rows, lambda r: float(r["sparsity"])).items())):
        rs.sort(key=lambda r: int(r["step"]))
        ax.plot([int(r["step"]) for r in rs], [float(r["lipschitz"]) for r in rs], "-o", markersize=3,
                color="C%d" % (i % 10), label="sparsity %g" % sparsity)
    ax.set_yscale("log")
    finish(ax, "%s: Lipschitz constant along training" % workload, "training step",
           "L (trajectory estimate)", os.path.join(out, "%s_lipschitz.png" % slug(workload)))


def plot_noise(workload, rows, fits, out):
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    for i, (sparsity, rs) in enumerate(sorted(group(rows, lambda r: float(r["sparsity"])).items())):
        rs = sorted((r for r in rs if r["simple_noise_scale"] not in ("inf", "", "null")
                     and float(r["simple_noise_scale"]) > 0), key=lambda r: int(r["step"]))
        color = "C%d" % (i % 10)
        ax.plot([int(r["step"]) for r in rs], [float(r["simple_noise_scale"]) for r in rs], "-o", markersize=3,
                color=color, label="B_simple, sparsity %g" % sparsity)
        fit = fits.get(sparsity)
        if fit and fit.get("critical_batch_size"):
            ax.axhline(float(fit["critical_batch_size"]), color=color, linestyle="--", linewidth=1,
                       label="fitted B_crit, sparsity %g" % sparsity)
    ax.set_yscale("log")
    finish(ax, "%s: gradient noise scale along training" % workload, "training step",
           "B_simple = tr(Sigma) / |G|^2", os.path.join(out, "%s_noise.png" % slug(workload)))


def plot_prediction(workload, rows, out):
    fig, ax = plt.subplots(figsize=(5.6, 5.0))
    lo, hi = float("inf"), 0.0
    for i, (sparsity, rs) in enumerate(sorted(group(rows, lambda r: float(r["sparsity"])).items())):
        obs = [float(r["steps"]) for r in rs]
        pred = [float(r["predicted_steps"]) for r in rs]
        ax.plot(obs, pred, "o", color="C%d" % ((i + 1) % 10), label="sparsity %g" % sparsity)
        for r, o, p in zip(rs, obs, pred):
            ax.annotate("B=%d" % int(float(r["batch_size"])), (o, p), fontsize=6, xytext=(3, 3),
                        textcoords="offset points")
        lo, hi = min(lo, *obs, *pred), max(hi, *obs, *pred)
    ax.plot([lo / 1.5, hi * 1.5], [lo / 1.5, hi * 1.5], "k--", linewidth=1, label="predicted = observed")
    ax.set_xscale("log")
    ax.set_yscale("log")
    finish(ax, "%s: theory (dense x L ratio) vs observed" % workload, "observed steps to result",
           "predicted steps to result", os.path.join(out, "%s_prediction.png" % slug(workload)))


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: plot_study.py DIR\n")
        return 2
    root = argv[1]
    out = os.path.join(root, "plots")
    os.makedirs(out, exist_ok=True)
    curves = read_csv(os.path.join(root, "curves.csv"))
    fits = read_csv(os.path.join(root, "fits.csv"))
    lipschitz = read_csv(os.path.join(root, "lipschitz.csv"))
    noise = read_csv(os.path.join(root, "gradient_noise.csv"))
    if not curves:
        sys.stderr.write("plot_study.py: %s/curves.csv has no rows\n" % root)
        return 1
    fits_by = group(fits, lambda r: r["workload"])
    for workload, rows in group(curves, lambda r: r["workload"]).items():
        if not any(r["source"] == "run" for r in rows):
            continue
        wl_fits = {float(f["sparsity"]): f for f in fits_by.get(workload, [])}
        plot_steps(workload, rows, wl_fits, out, normalized=False)
        plot_steps(workload, rows, wl_fits, out, normalized=True)
        predicted = [r for r in rows if r["source"] == "run" and r["predicted_steps"]]
        if predicted:
            plot_prediction(workload, predicted, out)
    for workload, rows in group(lipschitz, lambda r: r["workload"]).items():
        plot_lipschitz(workload, rows, out)
    for workload, rows in group(noise, lambda r: r["workload"]).items():
        plot_noise(workload, rows, {float(f["sparsity"]): f for f in fits_by.get(workload, [])}, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
