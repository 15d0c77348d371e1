"""The benchmark's figure: throughput (or latency) against FLOPs and against published top-1, like
the papers' figures (matplotlib, imported only when a figure is drawn)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from vmamba_zoo import published

from .report import settings_line

PLOT_METRICS = {
    "throughput": ("throughput", "throughput (img/s)"),
    "latency": ("latency_ms", "latency at batch 1 (ms)"),
}


def check_plot_file(path: str) -> None:
    """Raise ``ValueError`` if :func:`plot` could not write ``path``: matplotlib is missing or
    does not write that file type (checked before measuring, so that no run is lost)."""
    try:
        import matplotlib
    except ImportError as exc:
        raise ValueError(f"drawing {path} needs matplotlib ({exc})") from None
    matplotlib.use("Agg")
    from matplotlib.backend_bases import FigureCanvasBase

    extension = os.path.splitext(path)[1][1:].lower()
    supported = FigureCanvasBase.get_supported_filetypes()
    if extension and extension not in supported:
        raise ValueError(
            f"matplotlib cannot write .{extension} files ({path}); use one of "
            f"{', '.join('.' + e for e in sorted(supported))}"
        )


def plot(records: Sequence[dict], path: str, metric: str = "throughput") -> None:
    """Throughput (or latency) against FLOPs and against published top-1, like the papers'
    figures; our families in colour, timm's baselines in grey."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if metric not in PLOT_METRICS:
        raise ValueError(f"plot metric must be one of {', '.join(PLOT_METRICS)}, got {metric!r}")
    key, label = PLOT_METRICS[metric]
    points = [r for r in records if r.get(key) is not None]
    if not points:
        raise ValueError(f"no record has a measured {metric}; nothing to plot")
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5))
    colours = dict(zip(published.FAMILIES, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    shown: dict[str, object] = {}  # legend entry -> artist
    for ax, xkey, xlabel in (
        (axes[0], "gflops", "GFLOPs (fvcore, 224²)" if points[0]["img_size"] == 224 else "GFLOPs"),
        (axes[1], "top1", "published ImageNet-1K top-1 (%)"),
    ):
        for r in points:
            info = published.lookup(r["model"])
            xvalue = r.get("gflops") if xkey == "gflops" else (info and info.imagenet_top1)
            if xvalue is None:
                continue
            family = published.family_of(r["model"])
            colour = colours.get(family.key, "black") if family else "0.55"
            artist = ax.scatter(xvalue, r[key], color=colour, marker="o" if family else "s", s=36)
            shown.setdefault(family.title if family else "timm baseline", artist)
            ax.annotate(info.title if info else r["model"], (xvalue, r[key]), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")
        if not ax.collections:
            ax.text(0.5, 0.5, "no measured model has a published ImageNet-1K top-1",
                    ha="center", va="center", transform=ax.transAxes, fontsize=9)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_xscale("log")
    axes[0].legend(shown.values(), shown.keys(), fontsize=8)
    fig.suptitle(settings_line(records), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
