"""Pictures for the series: image grids, training curves, and notebook 1's 1-D densities.

Every function returns the Matplotlib ``Figure`` (so a notebook shows it inline and a test
can inspect it) and, given ``path``, also saves it as a PNG. Nothing here needs a display.
The 1-D plots (``plot_density_fits``, ``plot_snapshots``, ``plot_generator_map``,
``plot_js_curve``, ``plot_g_losses``) draw the densities and ``Snapshot`` records of
``gan_utils.toy``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Circle
from matplotlib.ticker import MaxNLocator

from . import toy, toy2d
from .data import to_unit_range


def image_grid(images, *, value_range: str, titles=None, ncols: int | None = None,
               path=None, suptitle: str | None = None, cell_size: float = 1.0) -> Figure:
    """Draw a batch of grayscale images as a grid.

    Args:
        images: array ``(N, 28, 28, 1)``, ``(N, 28, 28)`` or ``(N, 784)`` with pixels in the
            named ``value_range`` ("tanh": [-1, 1], "sigmoid": [0, 1]; a GAN's is ``gan.value_range``).
        titles: optional list of N strings, one per image, for example ``"Digit: 3"``.
        ncols: images per row; by default a near-square grid.
        path: when given, the figure is also saved there as a PNG.
        suptitle: an optional title over the whole grid.
        cell_size: inches per image.

    Returns:
        The Figure, with ``rows * ncols`` axes (empty cells are blank).
    """
    unit = to_unit_range(images, value_range)[..., 0]
    n = len(unit)
    if titles is not None and len(titles) != n:
        raise ValueError(f"titles has {len(titles)} entries for {n} images: give one per image.")
    ncols = ncols or math.ceil(math.sqrt(n))
    if not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"ncols must be a positive integer, got {ncols!r}.")
    nrows = math.ceil(n / ncols)
    title_room = 0.25 if titles is not None else 0.0
    fig = Figure(figsize=(ncols * cell_size, nrows * (cell_size + title_room) + (0.4 if suptitle else 0)))
    axes = fig.subplots(nrows, ncols, squeeze=False)
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


# One colour per curve in every notebook, whatever order the history holds them in: real in blue, fake in orange.
_COLORS = {"d_loss": "tab:blue", "g_loss": "tab:orange", "d_real": "tab:blue", "d_fake": "tab:orange",
           "score_real": "tab:blue", "score_fake": "tab:orange"}


def plot_history(history, path=None, keys=None) -> Figure:
    """Plot training curves: losses on the left, D's verdicts on the right.

    Args:
        history: a Keras ``History`` or a dict ``{name: [value per epoch]}``, for example
            with ``d_loss``, ``g_loss``, ``d_real`` (mean D(x)) and ``d_fake`` (mean D(G(z))),
            or, for the hinge and Wasserstein games, ``score_real`` and ``score_fake`` (mean raw
            critic scores).
        path: when given, the figure is also saved there as a PNG.
        keys: which curves to draw (default: every curve in the history).

    Returns:
        The Figure, D's curves and real data's in blue, G's and the fakes' in orange, in every run.
        For the cross-entropy game the loss panel marks log 2 = 0.69 and the D
        panel 0.5, the values at the theoretical equilibrium. Critic scores are not
        probabilities and have no such reference: their panel marks 0 only as an axis.
    """
    curves = history.history if hasattr(history, "history") else dict(history)
    if not curves:
        raise ValueError("history is empty: train for at least one epoch first.")
    keys = list(keys) if keys is not None else list(curves)
    unknown = [k for k in keys if k not in curves]
    if unknown:
        raise ValueError(f"history has no curves {unknown}; it has {sorted(curves)}.")
    prob_keys = [k for k in keys if k.startswith(("d_real", "d_fake"))]
    score_keys = [k for k in keys if k.startswith(("score_real", "score_fake"))]
    loss_keys = [k for k in keys if k not in prob_keys and k not in score_keys]
    critic = any(k.startswith("score_") for k in curves)  # a hinge or Wasserstein run: no log 2, no 1/2
    panels = [p for p in (loss_keys, prob_keys, score_keys) if p]
    fig = Figure(figsize=(5.5 * len(panels), 3.6))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, panel in zip(axes, panels):
        for key in panel:
            values = np.asarray(curves[key], dtype=float)
            ax.plot(np.arange(1, len(values) + 1), values, label=_LABELS.get(key, key), color=_COLORS.get(key))
        if panel is prob_keys:
            ax.axhline(0.5, color="gray", linestyle=":", label="0.5 (equilibrium)")
            ax.set_ylim(0, 1)
            ax.set_ylabel("mean discriminator output")
        elif panel is score_keys:
            ax.axhline(0.0, color="gray", linewidth=0.6)
            ax.set_ylabel("mean critic score (raw, not a probability)")
        else:
            if not critic:
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


# --------------------------------------------------------------------------------------------
# 1-D densities (notebook 1)
# --------------------------------------------------------------------------------------------

_DATA_STYLE = {"color": "black", "linestyle": ":", "linewidth": 2.0}
_G_COLOR, _D_COLOR, _DSTAR_COLOR = "tab:green", "tab:blue", "tab:orange"


def plot_density_fits(grid, p_data, fits: dict, samples=None, path=None, title: str | None = None) -> Figure:
    """The true density against explicit density estimates.

    Args:
        grid: ``(m,)`` points; ``p_data``: the true density on them ``(m,)``.
        fits: ``{label: density (m,)}``, for example a Gaussian fit and a KDE.
        samples: optional training samples, drawn as a light histogram.

    Returns:
        A Figure with one axes.
    """
    grid = toy.as_grid(grid)
    fig = Figure(figsize=(7.5, 3.6))
    ax = fig.subplots()
    if samples is not None:
        ax.hist(toy.as_samples(samples), bins=60, density=True, color="0.85", label="training samples")
    ax.plot(grid, p_data, label=r"$p_{data}(x)$", **_DATA_STYLE)
    for label, density in fits.items():
        ax.plot(grid, density, label=label, linewidth=1.6)
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    ax.set_xlim(grid[0], grid[-1])
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return finish(fig, path)


def plot_snapshots(snapshots, grid, p_data, path=None, title: str | None = None, show_d_star: bool = True,
                   xlim=None) -> Figure:
    """Goodfellow et al. (2014), Figure 1, from real training: one panel per snapshot.

    Each panel shows ``p_data`` (black dots), a histogram of G's samples and their KDE
    ``p_g`` (green), the trained ``D(x)`` (blue dashes) and, optionally, the optimal
    ``D*(x) = p_data / (p_data + p_g)`` (thin orange). D* is drawn only where
    ``p_data + p_g > 0.01``: where neither has mass, D* is a ratio of two underflowing tails and
    nothing trains D there.

    Args:
        snapshots: a list of ``toy.Snapshot`` (from ``callbacks.DensitySnapshots.snapshots``).
        grid, p_data: the grid ``(m,)`` and the true density on it ``(m,)``.

    Returns:
        A Figure with one row of ``len(snapshots)`` axes.
    """
    snapshots = list(snapshots)
    if not snapshots:
        raise ValueError("no snapshots to plot: train with a callbacks.DensitySnapshots callback first.")
    grid = toy.as_grid(grid)
    low, high = xlim if xlim is not None else (grid[0], grid[-1])
    fig = Figure(figsize=(3.4 * len(snapshots), 3.6))
    axes = fig.subplots(1, len(snapshots), squeeze=False, sharey=True)[0]
    top = 1.15 * max(float(np.max(p_data)), 1.0)
    for ax, snap in zip(axes, snapshots):
        ax.hist(snap.samples, bins=np.linspace(low, high, 121), density=True, color=_G_COLOR, alpha=0.25)
        ax.plot(grid, p_data, label=r"$p_{data}$", **_DATA_STYLE)
        ax.plot(grid, snap.p_g, color=_G_COLOR, linewidth=1.5, label=r"$p_g$ (KDE of G(z))")
        ax.plot(grid, snap.d, color=_D_COLOR, linestyle="--", linewidth=1.8, label="D(x), trained")
        if show_d_star:
            has_mass = (p_data + snap.p_g) > 1e-2
            ax.plot(grid, np.where(has_mass, snap.d_star, np.nan), color=_DSTAR_COLOR, linewidth=1.0,
                    label=r"$D^*(x)=p_{data}/(p_{data}+p_g)$")
        ax.axhline(0.5, color="0.6", linewidth=0.6)
        ax.set_xlim(low, high)
        ax.set_ylim(0, top)
        ax.set_xlabel("x")
        ax.set_title(f"epoch {snap.epoch}: JS = {snap.js:.3f}", fontsize=10)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return finish(fig, path)


def plot_generator_map(z, x, mixture: toy.GaussianMixture | None = None, path=None) -> Figure:
    """How G moves noise: ``z`` against ``G(z)``, with the densities at both ends.

    Left: the noise density N(0, 1). Middle: the map ``z -> G(z)`` and, given ``mixture``,
    the exact map ``F^{-1}(Phi(z))`` (or its mirror image, whichever way G runs). Right: a
    histogram of ``G(z)`` on its side, next to ``p_data``.

    Args:
        z: noise ``(n,)`` or ``(n, 1)``; x: ``G(z)`` of the same length.

    Returns:
        A Figure with three axes.
    """
    z, x = toy.as_samples(z), toy.as_samples(x)
    if len(z) != len(x):
        raise ValueError(f"z and x must have the same length, got {len(z)} and {len(x)}.")
    order = np.argsort(z)
    z, x = z[order], x[order]
    fig = Figure(figsize=(10, 3.6))
    left, middle, right = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 2.2, 1]})
    zs = np.linspace(-4, 4, 401)
    left.plot(zs, toy.normal_pdf(zs), color="0.3")
    left.fill_between(zs, toy.normal_pdf(zs), color="0.85")
    left.set_xlabel("z")
    left.set_title("noise N(0, 1)", fontsize=10)
    middle.plot(z, x, color=_G_COLOR, linewidth=2, label="G(z), learned")
    if mixture is not None:
        phi = 0.5 * (1.0 + np.vectorize(math.erf)(z / math.sqrt(2.0)))  # the normal CDF of z
        increasing = np.corrcoef(z, x)[0, 1] >= 0
        ideal = mixture.quantile(phi if increasing else 1.0 - phi)
        middle.plot(z, ideal, color="black", linestyle=":", linewidth=1.5,
                    label=r"exact map $F^{-1}(\Phi(z))$" + ("" if increasing else r", mirrored"))
    middle.set_xlabel("z")
    middle.set_ylabel("x = G(z)")
    middle.set_xlim(-4, 4)
    middle.legend(fontsize=8)
    middle.set_title("the generator's map", fontsize=10)
    low, high = middle.get_ylim()
    right.hist(x, bins=np.linspace(low, high, 81), density=True, orientation="horizontal", color=_G_COLOR, alpha=0.35)
    if mixture is not None:
        xs = np.linspace(low, high, 401)
        right.plot(mixture.pdf(xs), xs, **_DATA_STYLE)
    right.set_ylim(low, high)
    right.set_xlabel("density")
    right.set_title("G(z) vs p_data", fontsize=10)
    fig.tight_layout()
    return finish(fig, path)


def plot_js_curve(curves: dict, floor: float | None = None, path=None, xlabel: str = "epoch") -> Figure:
    """The estimated JS divergence over training, one line per run.

    Args:
        curves: ``{label: (epochs, js_values)}``, e.g. ``{"GAN": (snap.epochs, snap.js)}``.
        floor: optional JS of a perfect sampler under the same estimator, drawn as a line.

    Returns:
        A Figure with one axes, on a log y-scale, with ``log 2`` marked (the maximum).
    """
    if not curves:
        raise ValueError("curves is empty: pass {label: (epochs, js_values)}.")
    fig = Figure(figsize=(6.5, 3.4))
    ax = fig.subplots()
    for label, (epochs, values) in curves.items():
        ax.plot(epochs, values, marker=".", label=label)
    ax.axhline(toy.LOG2, color="0.5", linestyle=":", label="log 2 = 0.69 (no overlap)")
    if floor is not None:
        ax.axhline(floor, color="0.5", linestyle="--", label=f"estimator floor {floor:.4f}")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("JS(p_data || p_g), nats")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return finish(fig, path)


def plot_g_losses(d_values, losses: dict, gradients: dict, path=None) -> Figure:
    """G's two losses and their gradients with respect to D's logit, against ``D(G(z))``.

    Args:
        d_values: ``(k,)`` values of D(G(z)) in (0, 1).
        losses, gradients: ``{label: (k,) values}``, one entry per loss.

    Returns:
        A Figure with two axes.
    """
    fig = Figure(figsize=(10, 3.4))
    left, right = fig.subplots(1, 2)
    for label, values in losses.items():
        left.plot(d_values, values, label=label)
    for label, values in gradients.items():
        right.plot(d_values, np.abs(values), label=label)
    left.set_ylabel("G's loss")
    right.set_ylabel("|d loss / d logit|")
    for ax in (left, right):
        ax.set_xlabel("D(G(z))")
        ax.axvline(0.5, color="0.6", linewidth=0.6)
        ax.legend(fontsize=8)
    right.set_title("early in training D(G(z)) is near 0: left edge", fontsize=9)
    fig.tight_layout()
    return finish(fig, path)


_LABELS = {"d_real": "D(x), real", "d_fake": "D(G(z)), fake", "d_loss": "D loss", "g_loss": "G loss",
           "score_real": "critic score of real images", "score_fake": "critic score of fakes",
           "g_grad_norm": "norm of G's gradient", "fid": "classifier FID (lower is better)"}


def plot_points_2d(panels: dict, mixture: toy2d.Mixture2D, path=None, ncols: int | None = None,
                   limit: float | None = None) -> Figure:
    """Scatter plots of 2-D samples over a mixture's modes, one panel per entry.

    Args:
        panels: ``{title: points}``, each points a ``(n, 2)`` array; the panel's title gets the
            points' ``toy2d.mode_report`` (modes covered, high-quality share) underneath.
        mixture: the data's ``toy2d.Mixture2D``; its centres are drawn as black crosses (modes
            the points cover) or red rings (modes they miss), each with a circle of 3 standard
            deviations, the "high quality" zone.
        ncols: panels per row (default: all in one row, at most 6).
        limit: the axes run from ``-limit`` to ``limit`` (default: 1.5 times the farthest centre).

    Returns:
        A Figure.
    """
    panels = dict(panels)
    if not panels:
        raise ValueError("no panels to plot: pass {title: points}.")
    ncols = ncols or min(len(panels), 6)
    nrows = math.ceil(len(panels) / ncols)
    limit = limit or 1.5 * float(np.abs(mixture.centres).max())
    fig = Figure(figsize=(2.6 * ncols, 2.8 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax, (title, points) in zip(axes.flat, panels.items()):
        points = np.asarray(points, dtype=np.float64)
        finite = np.all(np.isfinite(points), axis=1)
        ax.scatter(points[finite, 0], points[finite, 1], s=4, color=_G_COLOR, alpha=0.45, linewidths=0)
        for cx, cy in mixture.centres:
            ax.add_patch(_circle((cx, cy), 3 * mixture.std))
        report = toy2d.mode_report(points[finite], mixture) if finite.any() else None
        covered = report.shares >= report.min_share if report is not None else np.zeros(mixture.modes, bool)
        ax.scatter(*mixture.centres[covered].T, marker="x", s=18, color="black", linewidths=1)
        ax.scatter(*mixture.centres[~covered].T, marker="o", s=70, facecolors="none", edgecolors="tab:red",
                   linewidths=1.2)
        summary = (f"{report.modes_covered}/{mixture.modes} modes, {report.high_quality:.0%} HQ"
                   if report is not None else "no finite points")
        ax.set_title(f"{title}\n{summary}", fontsize=9)
        ax.set_xlim(-limit, limit)
        ax.set_ylim(-limit, limit)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return finish(fig, path)


def _circle(centre, radius):
    return Circle(centre, radius, fill=False, color="black", linewidth=0.6, alpha=0.6)


def finish(fig: Figure, path=None) -> Figure:
    """Save ``fig`` as a PNG at ``path`` (folders created) when a path is given; return ``fig``."""
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png", dpi=100)
    return fig
