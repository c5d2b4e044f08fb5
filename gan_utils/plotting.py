"""Pictures for the series: image grids and training curves.

Every function returns the Matplotlib ``Figure`` (so a notebook shows it inline and a test
can inspect it) and, given ``path``, also saves it as a PNG. Nothing here needs a display.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .data import to_unit_range


def image_grid(images, titles=None, ncols: int | None = None, value_range: str = "tanh",
               path=None, suptitle: str | None = None, cell_size: float = 1.0) -> Figure:
    """Draw a batch of grayscale images as a grid.

    Args:
        images: array ``(N, 28, 28, 1)``, ``(N, 28, 28)`` or ``(N, 784)`` with pixels in the
            named ``value_range`` ("tanh": [-1, 1], "sigmoid": [0, 1]).
        titles: optional list of N strings, one per image, for example ``"Digit: 3"``.
        ncols: images per row; by default a near-square grid.
        path: when given, the figure is also saved there as a PNG.
        suptitle: an optional title over the whole grid.
        cell_size: inches per image.

    Returns:
        The Figure, with ``rows * ncols`` axes (empty cells are blank).
    """
    pictures = _as_pictures(images)
    n = len(pictures)
    if titles is not None and len(titles) != n:
        raise ValueError(f"titles has {len(titles)} entries for {n} images: give one per image.")
    ncols = ncols or math.ceil(math.sqrt(n))
    if not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"ncols must be a positive integer, got {ncols!r}.")
    nrows = math.ceil(n / ncols)
    title_room = 0.25 if titles is not None else 0.0
    fig = Figure(figsize=(ncols * cell_size, nrows * (cell_size + title_room) + (0.4 if suptitle else 0)))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    unit = to_unit_range(pictures, value_range)
    for index, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if index < n:
            ax.imshow(unit[index], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
            if titles is not None:
                ax.set_title(titles[index], fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout(pad=0.2)
    return finish(fig, path)


def plot_history(history, path=None, keys=None) -> Figure:
    """Plot training curves: losses on the left, D(x) and D(G(z)) on the right.

    Args:
        history: a Keras ``History`` or a dict ``{name: [value per epoch]}``, for example
            with ``d_loss``, ``g_loss``, ``d_real`` (mean D(x)) and ``d_fake`` (mean D(G(z))).
        path: when given, the figure is also saved there as a PNG.
        keys: which curves to draw (default: every curve in the history).

    Returns:
        The Figure. The loss panel marks log 2 = 0.69, and the D panel marks 0.5: the values
        at the theoretical equilibrium.
    """
    curves = history.history if hasattr(history, "history") else dict(history)
    if not curves:
        raise ValueError("history is empty: train for at least one epoch first.")
    keys = list(keys) if keys is not None else list(curves)
    unknown = [k for k in keys if k not in curves]
    if unknown:
        raise ValueError(f"history has no curves {unknown}; it has {sorted(curves)}.")
    prob_keys = [k for k in keys if k.startswith("d_real") or k.startswith("d_fake")]
    loss_keys = [k for k in keys if k not in prob_keys]
    panels = [p for p in (loss_keys, prob_keys) if p]
    fig = Figure(figsize=(5.5 * len(panels), 3.6))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, panel in zip(axes, panels):
        for key in panel:
            values = np.asarray(curves[key], dtype=float)
            ax.plot(np.arange(1, len(values) + 1), values, label=_LABELS.get(key, key))
        if panel is prob_keys:
            ax.axhline(0.5, color="gray", linestyle=":", label="0.5 (equilibrium)")
            ax.set_ylim(0, 1)
            ax.set_ylabel("mean discriminator output")
        else:
            ax.axhline(math.log(2), color="gray", linestyle=":", label="log 2 = 0.69")
            ax.set_ylabel("loss")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=8)
    fig.tight_layout()
    return finish(fig, path)


def compare_curves(histories: dict, keys, path=None, xlabel: str = "epoch", x: str | None = None) -> Figure:
    """Put the same curves of several runs side by side: one panel per key, one line per run.

    Args:
        histories: ``{run name: History or dict of curves}``, e.g. ``{"non-saturating": h1,
            "minimax": h2}``, or ``FIDTracker`` callbacks.
        keys: the curves to compare, e.g. ``["g_grad_norm", "d_fake"]``.
        x: the curve to put on the x-axis, e.g. ``"seconds"`` (default: 1, 2, 3, ...).

    Returns:
        The Figure, with ``len(keys)`` axes.
    """
    keys = [keys] if isinstance(keys, str) else list(keys)
    runs = {name: (h.history if hasattr(h, "history") else dict(h)) for name, h in histories.items()}
    for name, curves in runs.items():
        missing = [k for k in keys + ([x] if x else []) if k not in curves]
        if missing:
            raise ValueError(f"run {name!r} has no curves {missing}; it has {sorted(curves)}.")
    fig = Figure(figsize=(4.5 * len(keys), 3.3))
    for ax, key in zip(fig.subplots(1, len(keys), squeeze=False)[0], keys):
        for name, curves in runs.items():
            values = np.asarray(curves[key], dtype=float)
            xs = np.asarray(curves[x], dtype=float) if x else np.arange(1, len(values) + 1)
            ax.plot(xs, values, marker="." if x else None, label=name)
        ax.set_title(_LABELS.get(key, key))
        ax.set_xlabel(xlabel)
        if not x:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=8)
    fig.tight_layout()
    return finish(fig, path)


def bar_chart(values, labels=None, reference=None, reference_label: str = "reference", title: str = "",
              ylabel: str = "", ylim=None, path=None) -> Figure:
    """Bars for a handful of numbers, e.g. the share of each digit among generated samples.

    Args:
        values: K numbers, one bar each.
        labels: K tick labels (default 0..K-1, the digits).
        reference: optional number (a dashed line) or K numbers (grey markers), e.g. 0.1 for a
            uniform share of ten digits, or the judge's per-digit accuracy on real images.

    Returns:
        The Figure, with one axes holding K bars.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or len(values) == 0:
        raise ValueError(f"values must be a non-empty 1-D sequence, got shape {values.shape}.")
    labels = [str(i) for i in range(len(values))] if labels is None else [str(x) for x in labels]
    if len(labels) != len(values):
        raise ValueError(f"labels has {len(labels)} entries for {len(values)} values.")
    fig = Figure(figsize=(max(4.0, 0.45 * len(values) + 1.5), 3.0))
    ax = fig.subplots()
    positions = np.arange(len(values))
    ax.bar(positions, values, color="tab:blue")
    if reference is not None:
        ref = np.asarray(reference, dtype=float)
        if ref.ndim == 0:
            ax.axhline(float(ref), color="gray", linestyle="--", label=reference_label)
        else:
            ax.plot(positions, ref, "o", color="gray", label=reference_label)
        ax.legend(fontsize=8)
    ax.set_xticks(positions, labels)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    if ylim is not None:
        ax.set_ylim(*ylim)
    fig.tight_layout()
    return finish(fig, path)


_LABELS = {"d_real": "D(x), real", "d_fake": "D(G(z)), fake", "d_loss": "D loss", "g_loss": "G loss",
           "g_grad_norm": "norm of G's gradient", "fid": "classifier FID (lower is better)"}


def _as_pictures(images) -> np.ndarray:
    array = np.asarray(images, dtype=np.float32)
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    elif array.ndim == 2 and array.shape[1] == 784:
        array = array.reshape(-1, 28, 28)
    if array.ndim != 3 or len(array) == 0:
        raise ValueError(
            f"images must be a non-empty batch shaped (N, H, W, 1), (N, H, W) or (N, 784), "
            f"got {np.asarray(images).shape}."
        )
    return array


def finish(fig: Figure, path=None) -> Figure:
    """Save ``fig`` as a PNG at ``path`` (folders created) when a path is given; return ``fig``."""
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png", dpi=100)
    return fig
