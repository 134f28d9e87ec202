"""The fine-tuning curve plot: training loss and validation metrics per step."""

from __future__ import annotations

from pathlib import Path

from kerasbert.training.reporting import save_figure


def plot_curves(history: list[dict[str, float]], primary: str, path: Path) -> None:
    """Writes a PNG: loss (left), validation metrics (right), atomically.

    Args:
        history: rows ``{"step", "train_loss", metric: value, ...}``.
        primary: the metric that chose the best checkpoint (drawn bold).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [row["step"] for row in history]
    figure, (loss_axis, metric_axis) = plt.subplots(1, 2, figsize=(11, 4))
    loss_axis.plot(steps, [row["train_loss"] for row in history], marker="o")
    loss_axis.set_title("training loss (interval mean)")
    names = sorted({name for row in history for name in row} - {"step", "train_loss"})
    for name in names:
        metric_axis.plot(
            steps,
            [row.get(name, float("nan")) for row in history],
            marker="o",
            linewidth=2.5 if name == primary else 1.0,
            label=name,
        )
    metric_axis.set_title(f"validation (best by {primary})")
    for axis in (loss_axis, metric_axis):
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
    if names:
        metric_axis.legend(fontsize="small")
    figure.tight_layout()
    save_figure(figure, path)
