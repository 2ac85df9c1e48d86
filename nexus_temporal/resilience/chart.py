"""PNG charts (matplotlib, Agg backend): the benchmark's cells and the insights graph."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

__all__ = ["bench_chart", "graph_png"]


def _plt() -> Any:
    try:
        import matplotlib
    except ImportError as exc:  # an optional extra: say which
        raise ImportError(
            "charts need the 'charts' extra: pip install 'nexus-temporal[charts]'"
        ) from exc

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def bench_chart(report: dict[str, Any], path: str | Path) -> None:
    """Grouped bars per scenario and policy: completion, amplification, MTTR (median, with
    the min-max spread over seeds as error bars; unrecovered MTTR drawn at the run length)."""
    plt = _plt()
    cells = report["cells"]
    scenarios = list(dict.fromkeys(c["scenario"] for c in cells))
    policies = list(dict.fromkeys(c["policy"] for c in cells))
    cap = report.get("mttr_cap") or report["simulator"]["workload"]["horizon"] - 60.0
    metrics = (
        ("completion", "completion rate", 1.0),
        ("amplification", "invocations per logical call", None),
        ("mttr_s", "MTTR (s; top = not recovered)", cap),
    )
    fig, axes = plt.subplots(len(metrics), 1, figsize=(max(8, 1.3 * len(scenarios)), 10))
    width = 0.8 / max(len(policies), 1)
    for ax, (metric, label, top) in zip(axes, metrics, strict=True):
        for i, policy in enumerate(policies):
            xs, ys, lo, hi = [], [], [], []
            for j, scenario in enumerate(scenarios):
                found = [c for c in cells if c["scenario"] == scenario and c["policy"] == policy]
                if not found:  # e.g. an ablation policy run on some scenarios only
                    continue
                cell = found[0]
                m = cell[metric]
                vals = [m["median"], m["min"], m["max"]]
                if metric == "mttr_s":
                    vals = [cap if v is None else min(v, cap) for v in vals]
                if vals[0] is None:
                    continue
                xs.append(j + (i - (len(policies) - 1) / 2) * width)
                ys.append(vals[0])
                lo.append(max(vals[0] - (vals[1] if vals[1] is not None else vals[0]), 0))
                hi.append(max((vals[2] if vals[2] is not None else vals[0]) - vals[0], 0))
            ax.bar(xs, ys, width, yerr=[lo, hi], capsize=2, label=policy)
        ax.set_ylabel(label)
        if top is not None:
            ax.set_ylim(0, top * 1.05)
        ax.set_xticks(range(len(scenarios)))
        ax.set_xticklabels(scenarios, rotation=20, fontsize=8)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        ncol=len(policies),
        fontsize=8,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.965),
    )
    fig.suptitle(f"nexus bench resilience ({report['mode']}, {report['seeds']} seeds)", y=0.995)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def graph_png(nodes: list[str], edges: list[dict[str, Any]], path: str | Path) -> None:
    """Nodes on a circle, an arrow per edge (width grows with lift), labelled with the lift."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 8))
    n = max(len(nodes), 1)
    pos = {
        name: (math.cos(2 * math.pi * i / n), math.sin(2 * math.pi * i / n))
        for i, name in enumerate(nodes)
    }
    for e in edges:
        (x1, y1), (x2, y2) = pos[e["from"]], pos[e["to"]]
        width = 1 + min(e["lift"], 10)
        ax.annotate(
            "",
            xy=(x2, y2),
            xytext=(x1, y1),
            arrowprops={
                "arrowstyle": "-|>",
                "lw": width / 2,
                "color": "tab:red",
                "shrinkA": 18,
                "shrinkB": 18,
                "connectionstyle": "arc3,rad=0.1",
            },
        )
        ax.text(
            (x1 + x2) / 2,
            (y1 + y2) / 2,
            f"lift {e['lift']:.1f}\n{e['n_ab']}/{e['exposed']}",
            fontsize=7,
            ha="center",
        )
    for name, (x, y) in pos.items():
        ax.scatter([x], [y], s=900, color="tab:blue", alpha=0.25)
        ax.text(x, y, name, ha="center", va="center", fontsize=8)
    ax.set_xlim(-1.4, 1.4)
    ax.set_ylim(-1.4, 1.4)
    ax.axis("off")
    ax.set_title("failure correlation: P(B fails | A failed within window) / P(B fails)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
