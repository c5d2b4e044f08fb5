"""One-dimensional toy problems for notebook 1: a GAN that learns a mixture of Gaussians.

In one dimension every density can be drawn, so the theory of the GAN objective can be checked
against real training. This module holds:

* ``GaussianMixture``: the data density ``p_data(x)``, its samples and its modes;
* density estimates and distances on a grid: ``fit_gaussian``, ``histogram_density``, ``kde``,
  ``kl_divergence``, ``js_divergence``, and the optimal discriminator
  ``D*(x) = p_data(x) / (p_data(x) + p_g(x))``;
* ``mlp_generator_1d`` and ``mlp_discriminator_1d``: small MLPs for ``gan_utils.training.GAN``;
* ``DensitySnapshots``: a Keras callback that records D(x) on the grid, G's samples and the
  estimated Jensen-Shannon divergence while ``fit()`` runs;
* ``plot_*`` functions, which return a Matplotlib ``Figure`` (and save a PNG given ``path``).

Conventions: a *grid* is a 1-D float array ``(m,)`` of evenly spaced points; a density on a grid
is a float64 array ``(m,)`` of values >= 0; *samples* are float arrays ``(n,)`` or ``(n, 1)``
(the GAN's shape). Divergences are in nats (natural logarithm), so ``log 2 = 0.693``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import numpy as np
from matplotlib.figure import Figure

from .plotting import finish as _finish

LOG2 = math.log(2.0)
_SQRT_2PI = math.sqrt(2.0 * math.pi)


# --------------------------------------------------------------------------------------------
# The data: a mixture of Gaussians
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GaussianMixture:
    """A 1-D mixture ``p(x) = sum_k w_k N(x; mu_k, sigma_k^2)``.

    Args:
        means: the modes' centres ``mu_k``, K finite floats.
        stds: their standard deviations ``sigma_k > 0``, K floats.
        weights: mixing weights ``w_k >= 0`` summing to 1 (within 1e-6), K floats.

    Raises:
        ValueError: when the three lists differ in length, a std is not positive, or the
            weights are negative or do not sum to 1.
    """

    means: tuple
    stds: tuple
    weights: tuple

    def __post_init__(self):
        means, stds, weights = (tuple(float(v) for v in np.atleast_1d(a)) for a in (self.means, self.stds, self.weights))
        object.__setattr__(self, "means", means)
        object.__setattr__(self, "stds", stds)
        object.__setattr__(self, "weights", weights)
        if not means or not len(means) == len(stds) == len(weights):
            raise ValueError(
                f"means, stds and weights need one entry per mode, got {len(means)}, {len(stds)} and "
                f"{len(weights)}. Example: GaussianMixture(means=(-2, 2), stds=(0.5, 0.5), weights=(0.5, 0.5))."
            )
        if not all(math.isfinite(m) for m in means):
            raise ValueError(f"means must be finite numbers, got {means}.")
        if not all(math.isfinite(s) and s > 0 for s in stds):
            raise ValueError(f"stds must be positive, got {stds}.")
        if any(not math.isfinite(w) or w < 0 for w in weights):
            raise ValueError(f"weights must be non-negative, got {weights}.")
        total = sum(weights)
        if abs(total - 1.0) > 1e-6:
            hint = (f" Divide them by their sum: weights={tuple(round(w / total, 4) for w in weights)}."
                    if total > 0 else "")
            raise ValueError(f"weights must sum to 1, got {weights} (sum {total:.6g}).{hint}")

    @property
    def n_modes(self) -> int:
        """K, the number of Gaussian components."""
        return len(self.means)

    def component_densities(self, x) -> np.ndarray:
        """``w_k N(x; mu_k, sigma_k^2)`` for every k: float64 ``x.shape + (K,)``, values >= 0."""
        x = np.asarray(x, dtype=np.float64)[..., None]
        mu, sigma, w = (np.asarray(a) for a in (self.means, self.stds, self.weights))
        return w * np.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * _SQRT_2PI)

    def pdf(self, x) -> np.ndarray:
        """The density ``p(x)``: float64 of the same shape as ``x``, values >= 0, integral 1."""
        return self.component_densities(x).sum(axis=-1)

    def cdf(self, x) -> np.ndarray:
        """``P(X <= x)``: float64 of the same shape as ``x``, values in [0, 1], non-decreasing."""
        x = np.asarray(x, dtype=np.float64)
        erf = np.vectorize(math.erf, otypes=[np.float64])
        total = np.zeros_like(x)
        for mu, sigma, w in zip(self.means, self.stds, self.weights):
            total += w * 0.5 * (1.0 + erf((x - mu) / (sigma * math.sqrt(2.0))))
        return total

    def sample(self, n: int, seed: int = 0, return_modes: bool = False):
        """Draw ``n`` samples with NumPy (reproducible for a given seed).

        Returns:
            float32 samples ``(n, 1)``, the shape a 1-D discriminator takes; with
            ``return_modes=True`` also the int64 mode index ``(n,)`` each sample came from.
        """
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}.")
        rng = np.random.default_rng(seed)
        modes = rng.choice(self.n_modes, size=n, p=np.asarray(self.weights))
        x = np.asarray(self.means)[modes] + np.asarray(self.stds)[modes] * rng.standard_normal(n)
        x = x.astype(np.float32)[:, None]
        return (x, modes.astype(np.int64)) if return_modes else x

    def assign_modes(self, samples) -> np.ndarray:
        """The most probable mode of each sample (largest ``w_k N(x; mu_k, sigma_k^2)``): int64 ``(n,)``."""
        return np.argmax(self.component_densities(_flat(samples)), axis=-1).astype(np.int64)

    def mode_shares(self, samples) -> np.ndarray:
        """The fraction of ``samples`` that falls in each mode: float64 ``(K,)``, summing to 1.

        Compare it with ``weights``: a generator that covers every mode gives shares close to
        the weights; a collapsed one puts (almost) everything into one mode.
        """
        modes = self.assign_modes(samples)
        return np.bincount(modes, minlength=self.n_modes) / len(modes)

    def support(self, n_std: float = 4.0) -> tuple[float, float]:
        """An interval holding nearly all the mass: ``(min mu_k - n_std sigma_k, max mu_k + n_std sigma_k)``."""
        low = min(m - n_std * s for m, s in zip(self.means, self.stds))
        high = max(m + n_std * s for m, s in zip(self.means, self.stds))
        return low, high

    def quantile(self, u) -> np.ndarray:
        """The inverse CDF ``F^{-1}(u)`` for ``u`` in (0, 1), by interpolation on a fine grid.

        In one dimension, ``G*(z) = F^{-1}(Phi(z))`` turns N(0, 1) noise into exactly this
        mixture: the map a 1-D generator can aim for. Returns float64 of ``u``'s shape.
        """
        low, high = self.support(8.0)
        xs = np.linspace(low, high, 20_001)
        cdf = self.cdf(xs)
        return np.interp(np.asarray(u, dtype=np.float64), cdf, xs)


def mixture(means, stds, weights=None) -> GaussianMixture:
    """A ``GaussianMixture``; ``stds`` may be one number for every mode, ``weights`` default to equal."""
    means = tuple(np.atleast_1d(np.asarray(means, dtype=float)).tolist())
    if np.ndim(stds) == 0:
        stds = (float(stds),) * len(means)
    if weights is None:
        weights = (1.0 / len(means),) * len(means)
    return GaussianMixture(means, stds, weights)


# --------------------------------------------------------------------------------------------
# Densities and distances on a grid
# --------------------------------------------------------------------------------------------

def make_grid(low: float = -6.0, high: float = 6.0, n: int = 601) -> np.ndarray:
    """``n`` evenly spaced points from ``low`` to ``high``: float64 ``(n,)``."""
    if not high > low or n < 3:
        raise ValueError(f"a grid needs low < high and n >= 3, got low={low}, high={high}, n={n}.")
    return np.linspace(low, high, int(n))


def normal_pdf(x, mean: float = 0.0, std: float = 1.0) -> np.ndarray:
    """``N(x; mean, std^2)``: float64 of ``x``'s shape."""
    if not std > 0:
        raise ValueError(f"std must be positive, got {std!r}.")
    x = np.asarray(x, dtype=np.float64)
    return np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * _SQRT_2PI)


def fit_gaussian(samples) -> tuple[float, float]:
    """The maximum-likelihood Gaussian for ``samples``: ``(mean, std)`` (std with 1/n)."""
    x = _flat(samples)
    return float(x.mean()), float(x.std())


def histogram_density(samples, grid, bins: int = 40, value_range=None) -> np.ndarray:
    """A normalised histogram of ``samples``, read off at every grid point.

    Args:
        samples: ``(n,)`` or ``(n, 1)`` floats.
        grid: ``(m,)`` evaluation points.
        bins: number of equal-width bins over ``value_range`` (default: the samples' range).

    Returns:
        float64 ``(m,)``: the height of the bin holding each grid point, 0 outside the bins.
        The bins integrate to 1; outside them the density is exactly 0.
    """
    x, grid = _flat(samples), _grid(grid)
    heights, edges = np.histogram(x, bins=bins, range=value_range, density=True)
    index = np.searchsorted(edges, grid, side="right") - 1
    index[grid == edges[-1]] = len(heights) - 1  # the last bin is closed on the right
    inside = (index >= 0) & (index < len(heights))
    out = np.zeros_like(grid)
    out[inside] = heights[index[inside]]
    return out


def silverman_bandwidth(samples) -> float:
    """Silverman's rule of thumb, ``0.9 min(std, IQR / 1.34) n^(-1/5)``: a float > 0."""
    x = _flat(samples)
    q75, q25 = np.percentile(x, [75, 25])
    spread = min(x.std(), (q75 - q25) / 1.34) or x.std() or 1.0
    return float(0.9 * spread * len(x) ** -0.2)


def kde(samples, grid, bandwidth: float | None = None) -> np.ndarray:
    """A Gaussian kernel density estimate ``(1/n) sum_i N(x; x_i, h^2)`` on the grid.

    Args:
        samples: ``(n,)`` or ``(n, 1)`` floats.
        grid: ``(m,)`` evaluation points.
        bandwidth: the kernel's std ``h``; default ``silverman_bandwidth(samples)``.

    Returns:
        float64 ``(m,)``, values > 0 (up to underflow) that integrate to 1 over the real line.
    """
    x, grid = _flat(samples), _grid(grid)
    h = silverman_bandwidth(x) if bandwidth is None else float(bandwidth)
    if not h > 0:
        raise ValueError(f"bandwidth must be positive, got {bandwidth!r}.")
    total = np.zeros_like(grid)
    for start in range(0, len(x), 4096):  # in chunks: an (m, 4096) matrix at most
        u = (grid[:, None] - x[None, start:start + 4096]) / h
        total += np.exp(-0.5 * u * u).sum(axis=1)
    return total / (len(x) * h * _SQRT_2PI)


def integrate(values, grid) -> float:
    """The trapezoidal integral of ``values (m,)`` over the grid ``(m,)``."""
    values, grid = np.asarray(values, dtype=np.float64), _grid(grid)
    return float(np.sum(0.5 * (values[1:] + values[:-1]) * np.diff(grid)))


def kl_divergence(p, q, grid) -> float:
    """``KL(p || q) = integral of p log(p / q)`` in nats, for densities on the grid.

    Where ``p = 0`` the integrand is 0. Where ``q = 0`` but ``p > 0`` the divergence is
    infinite: ``q`` calls impossible what ``p`` produces. Both densities are renormalised to
    integrate to 1 over the grid first, so a grid that cuts off a sliver of tail does not
    make the result negative.

    Returns:
        A float in [0, inf]. Not symmetric: ``KL(p || q) != KL(q || p)`` in general.
    """
    p, q = _density(p, grid, "p"), _density(q, grid, "q")
    if np.any((p > 0) & (q <= 0)):
        return math.inf
    mask = p > 0
    integrand = np.zeros_like(p)
    integrand[mask] = p[mask] * np.log(p[mask] / q[mask])
    return max(integrate(integrand, grid), 0.0)


def js_divergence(p, q, grid) -> float:
    """The Jensen-Shannon divergence ``(KL(p || m) + KL(q || m)) / 2`` with ``m = (p + q) / 2``.

    Symmetric, always finite, 0 for identical densities and at most ``log 2 = 0.693`` nats
    (reached when p and q do not overlap). Goodfellow et al. (2014) show that, against the
    optimal discriminator, G minimises ``2 JS(p_data || p_g) - log 4``.

    Returns:
        A float in [0, log 2].
    """
    p, q = _density(p, grid, "p"), _density(q, grid, "q")
    m = 0.5 * (p + q)
    return min(0.5 * kl_divergence(p, m, grid) + 0.5 * kl_divergence(q, m, grid), LOG2)


def optimal_discriminator(p_data, p_g) -> np.ndarray:
    """``D*(x) = p_data(x) / (p_data(x) + p_g(x))``, the best D against a fixed G.

    Args:
        p_data, p_g: densities ``(m,)`` on the same grid, values >= 0.

    Returns:
        float64 ``(m,)`` in [0, 1]; NaN where both densities are 0 (D* is undefined there).
    """
    p_data, p_g = np.asarray(p_data, dtype=np.float64), np.asarray(p_g, dtype=np.float64)
    if p_data.shape != p_g.shape:
        raise ValueError(f"p_data and p_g must be on the same grid, got shapes {p_data.shape} and {p_g.shape}.")
    total = p_data + p_g
    out = np.full_like(total, np.nan)
    np.divide(p_data, total, out=out, where=total > 0)
    return out


def weighted_error(d, d_star, p_data, grid) -> float:
    """``integral p_data |D - D*| dx``: how far D is from D* where the data has mass, in [0, 1].

    Grid points where D* is undefined (NaN) are skipped; p_data is renormalised over the rest.
    """
    d, d_star, p_data = (np.asarray(a, dtype=np.float64) for a in (d, d_star, p_data))
    valid = np.isfinite(d_star)
    weight = np.where(valid, p_data, 0.0)
    gap = np.where(valid, np.abs(d - np.nan_to_num(d_star)), 0.0)
    return integrate(weight * gap, grid) / integrate(weight, grid)


# --------------------------------------------------------------------------------------------
# Models and the snapshot callback
# --------------------------------------------------------------------------------------------

def mlp_generator_1d(latent_dim: int = 1, hidden: int = 64, depth: int = 2, skip: bool = True,
                     offset: float = 0.0, name: str = "toy_generator") -> keras.Model:
    """A small MLP generator ``z (batch, latent_dim) -> x (batch, 1)``, linear (unbounded) output.

    Args:
        latent_dim: length of the noise vector; 1 lets you plot the whole map ``z -> G(z)``.
        hidden, depth: ``depth`` Dense layers of ``hidden`` LeakyReLU units.
        skip: add the noise to the output, ``G(z) = z + f(z)`` (needs ``latent_dim=1``). An
            untrained MLP squeezes N(0, 1) into a narrow spike; with the skip, G starts near the
            identity, so its samples start spread over the data instead of on one side of it.
        offset: the initial bias of the output layer, which shifts the untrained generator's
            samples by this much (0 is Keras's default; notebook 1 shifts it to force mode collapse).

    Returns:
        A ``keras.Model`` with output shape ``(None, 1)``.
    """
    if not isinstance(latent_dim, int) or latent_dim < 1:
        raise ValueError(f"latent_dim must be a positive integer, got {latent_dim!r}.")
    if skip and latent_dim != 1:
        raise ValueError(f"skip=True adds the noise z to the output, so it needs latent_dim=1, got "
                         f"latent_dim={latent_dim}. Pass skip=False for longer noise vectors.")
    z = keras.Input((latent_dim,), name="z")
    h = z
    for _ in range(depth):
        h = keras.layers.Dense(hidden, activation="leaky_relu")(h)
    out = keras.layers.Dense(1, name="f", bias_initializer=keras.initializers.Constant(float(offset)))(h)
    if skip:
        out = keras.layers.Add(name="x")([z, out])
    model = keras.Model(z, out, name=name)
    assert model.output_shape == (None, 1), model.output_shape  # None is the batch size
    return model


def mlp_discriminator_1d(hidden: int = 128, depth: int = 2, name: str = "toy_discriminator") -> keras.Model:
    """A small MLP discriminator ``x (batch, 1) -> logit (batch, 1)``; ``D(x) = sigmoid(logit)`` in (0, 1).

    ``depth`` Dense layers of ``hidden`` LeakyReLU units, then one linear unit (the logit).
    """
    x = keras.Input((1,), name="x")
    h = x
    for _ in range(depth):
        h = keras.layers.Dense(hidden, activation="leaky_relu")(h)
    model = keras.Model(x, keras.layers.Dense(1, name="logit")(h), name=name)
    assert model.output_shape == (None, 1)
    return model


def discriminator_curve(discriminator: keras.Model, grid) -> np.ndarray:
    """``D(x) = sigmoid(logit(x))`` at every grid point: float64 ``(m,)`` in (0, 1)."""
    grid = _grid(grid)
    logits = np.asarray(discriminator(grid[:, None].astype(np.float32), training=False), dtype=np.float64)
    return 1.0 / (1.0 + np.exp(-logits[:, 0]))


@dataclass
class Snapshot:
    """The state of a 1-D GAN at one moment of training, all on one grid ``(m,)``.

    Attributes:
        epoch: epochs finished (0 = before training).
        samples: G's outputs on the fixed noise, float32 ``(n,)``.
        p_g: KDE of ``samples`` on the grid, float64 ``(m,)``.
        d: the trained discriminator ``D(x)``, float64 ``(m,)`` in (0, 1).
        d_star: the optimal discriminator for this G, float64 ``(m,)`` in [0, 1].
        js: the estimated ``JS(p_data || p_g)`` in nats, in [0, log 2].
        d_error: ``weighted_error(d, d_star, p_data)``, in [0, 1].
    """

    epoch: int
    samples: np.ndarray
    p_g: np.ndarray
    d: np.ndarray
    d_star: np.ndarray
    js: float
    d_error: float


class DensitySnapshots(keras.callbacks.Callback):
    """Watch a 1-D GAN learn: the JS divergence after every epoch, full snapshots at a few.

    The generator's samples come from one fixed noise batch, drawn once and kept apart from
    the training noise, so that every estimate looks at the same points ``z``. The model must
    be a ``gan_utils.training.GAN`` on 1-D data (it uses ``noise``, ``sampler`` and
    ``discriminator``).

    Args:
        mixture: the data's ``GaussianMixture``.
        grid: ``(m,)`` points where densities and D(x) are evaluated.
        snapshot_epochs: the epochs after which to keep a full ``Snapshot``; 0 means before
            training. The last epoch is always kept.
        n_samples: size of the fixed noise batch.
        bandwidth: KDE bandwidth for ``p_g``; small next to the modes' widths.
        seed: seed of the fixed noise.

    After ``fit()``: ``epochs`` and ``js`` (lists, one entry per epoch plus the start),
    ``snapshots`` (a list of ``Snapshot``) and ``z`` (the fixed noise, ``(n_samples, latent_dim)``).
    """

    def __init__(self, mixture: GaussianMixture, grid, snapshot_epochs=(0,), n_samples: int = 5000,
                 bandwidth: float = 0.1, seed: int = 1234):
        super().__init__()
        self.mixture, self.grid = mixture, _grid(grid)
        self.p_data = mixture.pdf(self.grid)
        self.snapshot_epochs = {int(e) for e in snapshot_epochs}
        self.n_samples, self.bandwidth, self.seed = n_samples, bandwidth, seed
        self.z = None
        self.epochs: list[int] = []
        self.js: list[float] = []
        self.snapshots: list[Snapshot] = []

    def on_train_begin(self, logs=None):
        if self.z is None:
            self.z = self.model.noise(self.n_samples, seed=self.seed)
        self._last = self.params.get("epochs")
        if not self.epochs:  # the untrained generator, once (not again on a second fit())
            self.record(0, keep=0 in self.snapshot_epochs)

    def on_epoch_end(self, epoch, logs=None):
        done = (self.epochs[-1] if self.epochs else 0) + 1
        self.record(done, keep=done in self.snapshot_epochs or epoch + 1 == self._last)

    def record(self, epoch: int, keep: bool = True) -> Snapshot | None:
        """Measure the model now: append to ``epochs``/``js``, and to ``snapshots`` if ``keep``."""
        samples = np.asarray(self.model.sampler(self.z, training=False), dtype=np.float32)[:, 0]
        p_g = kde(samples, self.grid, self.bandwidth)
        js = js_divergence(self.p_data, p_g, self.grid)
        self.epochs.append(epoch)
        self.js.append(js)
        if not keep:
            return None
        d = discriminator_curve(self.model.discriminator, self.grid)
        d_star = optimal_discriminator(self.p_data, p_g)
        snap = Snapshot(epoch, samples, p_g, d, d_star, js, weighted_error(d, d_star, self.p_data, self.grid))
        self.snapshots.append(snap)
        return snap


# --------------------------------------------------------------------------------------------
# Plots (each returns a Figure; ``path`` also saves a PNG)
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
    grid = _grid(grid)
    fig = Figure(figsize=(7.5, 3.6))
    ax = fig.subplots()
    if samples is not None:
        ax.hist(_flat(samples), bins=60, density=True, color="0.85", label="training samples")
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
    return _finish(fig, path)


def plot_snapshots(snapshots, grid, p_data, path=None, title: str | None = None, show_d_star: bool = True,
                   xlim=None) -> Figure:
    """Goodfellow et al. (2014), Figure 1, from real training: one panel per snapshot.

    Each panel shows ``p_data`` (black dots), a histogram of G's samples and their KDE
    ``p_g`` (green), the trained ``D(x)`` (blue dashes) and, optionally, the optimal
    ``D*(x) = p_data / (p_data + p_g)`` (thin orange). D* is drawn only where
    ``p_data + p_g > 0.01``: where neither has mass, D* is a ratio of two underflowing tails and
    nothing trains D there.

    Args:
        snapshots: a list of ``Snapshot`` (from ``DensitySnapshots.snapshots``).
        grid, p_data: the grid ``(m,)`` and the true density on it ``(m,)``.

    Returns:
        A Figure with one row of ``len(snapshots)`` axes.
    """
    snapshots = list(snapshots)
    if not snapshots:
        raise ValueError("no snapshots to plot: train with a DensitySnapshots callback first.")
    grid = _grid(grid)
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
    return _finish(fig, path)


def plot_generator_map(z, x, mixture: GaussianMixture | None = None, path=None) -> Figure:
    """How G moves noise: ``z`` against ``G(z)``, with the densities at both ends.

    Left: the noise density N(0, 1). Middle: the map ``z -> G(z)`` and, given ``mixture``,
    the exact map ``F^{-1}(Phi(z))`` (or its mirror image, whichever way G runs). Right: a
    histogram of ``G(z)`` on its side, next to ``p_data``.

    Args:
        z: noise ``(n,)`` or ``(n, 1)``; x: ``G(z)`` of the same length.

    Returns:
        A Figure with three axes.
    """
    z, x = _flat(z), _flat(x)
    if len(z) != len(x):
        raise ValueError(f"z and x must have the same length, got {len(z)} and {len(x)}.")
    order = np.argsort(z)
    z, x = z[order], x[order]
    fig = Figure(figsize=(10, 3.6))
    left, middle, right = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 2.2, 1]})
    zs = np.linspace(-4, 4, 401)
    left.plot(zs, normal_pdf(zs), color="0.3")
    left.fill_between(zs, normal_pdf(zs), color="0.85")
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
    return _finish(fig, path)


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
    ax.axhline(LOG2, color="0.5", linestyle=":", label="log 2 = 0.69 (no overlap)")
    if floor is not None:
        ax.axhline(floor, color="0.5", linestyle="--", label=f"estimator floor {floor:.4f}")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("JS(p_data || p_g), nats")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _finish(fig, path)


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
    return _finish(fig, path)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------

def _flat(samples) -> np.ndarray:
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 1 or len(x) == 0:
        raise ValueError(f"samples must be a non-empty array (n,) or (n, 1), got shape {np.shape(samples)}.")
    if not np.all(np.isfinite(x)):
        raise ValueError("samples contain NaN or infinite values: did training diverge?")
    return x


def _grid(grid) -> np.ndarray:
    grid = np.asarray(grid, dtype=np.float64)
    if grid.ndim != 1 or len(grid) < 3 or not np.all(np.diff(grid) > 0):
        raise ValueError(f"grid must be an increasing 1-D array of at least 3 points (see make_grid), got shape {grid.shape}.")
    return grid


def _density(values, grid, name) -> np.ndarray:
    values, grid = np.asarray(values, dtype=np.float64), _grid(grid)
    if values.shape != grid.shape:
        raise ValueError(f"{name} must hold one value per grid point, shape {grid.shape}, got {values.shape}.")
    if np.any(values < 0) or not np.all(np.isfinite(values)):
        raise ValueError(f"{name} must be a density: finite values >= 0.")
    mass = integrate(values, grid)
    if not mass > 0:
        raise ValueError(f"{name} has no mass on this grid: widen the grid (make_grid(low, high)).")
    return values / mass

