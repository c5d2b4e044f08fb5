"""One-dimensional toy problems for notebook 1: the maths of a GAN that learns a mixture of Gaussians.

In one dimension every density can be drawn, so the theory of the GAN objective can be checked
against real training. This module holds the maths, in NumPy only, so that it imports and runs
without TensorFlow or Keras:

* ``GaussianMixture``: the data density ``p_data(x)``, its samples and its modes;
* density estimates and distances on a grid: ``fit_gaussian``, ``histogram_density``, ``kde``,
  ``kl_divergence``, ``js_divergence``, and the optimal discriminator
  ``D*(x) = p_data(x) / (p_data(x) + p_g(x))``;
* ``Snapshot``: the record of one moment of training (G's samples, p_g, D, D*, JS).

The rest of notebook 1's toolkit sits beside its kind: the 1-D networks
(``mlp_generator_1d``, ``mlp_discriminator_1d``, ``discriminator_curve``) in
``gan_utils.models``, the ``DensitySnapshots`` callback in ``gan_utils.callbacks``, and the
plots (``plot_density_fits``, ``plot_snapshots``, ...) in ``gan_utils.plotting``.

Conventions: a *grid* is a 1-D float array ``(m,)`` of evenly spaced points; a density on a grid
is a float64 array ``(m,)`` of values >= 0; *samples* are float arrays ``(n,)`` or ``(n, 1)``
(the GAN's shape). Divergences are in nats (natural logarithm), so ``log 2 = 0.693``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LOG2 = math.log(2.0)
_SQRT_2PI = math.sqrt(2.0 * math.pi)
# How far a divergence may stray outside its range by float64 rounding alone: sums over a grid of
# thousands of points err by about 1e-13 nats, so 1e-9 is generous and still catches any real bug.
ROUNDING_TOLERANCE = 1e-9


# --------------------------------------------------------------------------------------------
# The data: a mixture of Gaussians
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GaussianMixture:
    """A 1-D mixture ``p(x) = sum_k w_k N(x; mu_k, sigma_k^2)``.

    Args:
        means: the modes' centres ``mu_k``, K finite floats.
        stds: their standard deviations ``sigma_k > 0``, K floats.
        weights: mixing weights ``w_k >= 0`` summing to 1 (within 1e-6), K floats. They are
            stored divided by their sum, so that ``pdf`` integrates to 1 and ``sample`` (whose
            ``rng.choice`` allows only about 1e-8) accepts them.

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
        object.__setattr__(self, "weights", tuple(w / total for w in weights))

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
        return np.argmax(self.component_densities(as_samples(samples)), axis=-1).astype(np.int64)

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
    x = as_samples(samples)
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
    x, grid = as_samples(samples), as_grid(grid)
    heights, edges = np.histogram(x, bins=bins, range=value_range, density=True)
    index = np.searchsorted(edges, grid, side="right") - 1
    index[grid == edges[-1]] = len(heights) - 1  # the last bin is closed on the right
    inside = (index >= 0) & (index < len(heights))
    out = np.zeros_like(grid)
    out[inside] = heights[index[inside]]
    return out


def silverman_bandwidth(samples) -> float:
    """Silverman's rule of thumb, ``0.9 min(std, IQR / 1.34) n^(-1/5)``: a float > 0."""
    x = as_samples(samples)
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
    x, grid = as_samples(samples), as_grid(grid)
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
    values, grid = np.asarray(values, dtype=np.float64), as_grid(grid)
    return float(np.sum(0.5 * (values[1:] + values[:-1]) * np.diff(grid)))


def kl_divergence(p, q, grid) -> float:
    """``KL(p || q) = integral of p log(p / q)`` in nats, for densities on the grid.

    Where ``p = 0`` the integrand is 0. Where ``q = 0`` but ``p > 0`` the divergence is
    infinite: ``q`` calls impossible what ``p`` produces. Both densities are renormalised to
    integrate to 1 over the grid first, so a grid that cuts off a sliver of tail does not
    make the result negative.

    Returns:
        A float in [0, inf]. Not symmetric: ``KL(p || q) != KL(q || p)`` in general.

    Raises:
        ValueError: if the result is negative by more than ``ROUNDING_TOLERANCE``, which only
            a bug in the computation can cause (a rounding error of that size is clipped to 0).
    """
    p, q = _density(p, grid, "p"), _density(q, grid, "q")
    if np.any((p > 0) & (q <= 0)):
        return math.inf
    mask = p > 0
    integrand = np.zeros_like(p)
    integrand[mask] = p[mask] * np.log(p[mask] / q[mask])
    return _in_range(integrate(integrand, grid), 0.0, math.inf, "KL")


def js_divergence(p, q, grid) -> float:
    """The Jensen-Shannon divergence ``(KL(p || m) + KL(q || m)) / 2`` with ``m = (p + q) / 2``.

    Symmetric, always finite, 0 for identical densities and at most ``log 2 = 0.693`` nats
    (reached when p and q do not overlap). Goodfellow et al. (2014) show that, against the
    optimal discriminator, G minimises ``2 JS(p_data || p_g) - log 4``.

    Returns:
        A float in [0, log 2].

    Raises:
        ValueError: if the result leaves [0, log 2] by more than ``ROUNDING_TOLERANCE``, which
            only a bug in the computation can cause (a rounding error of that size is clipped).
    """
    p, q = _density(p, grid, "p"), _density(q, grid, "q")
    # Values below the smallest normal float (2e-308) carry no mass that matters. Zeroed, they
    # cannot make m = (p + q) / 2 round to 0 where p > 0, which would make KL(p || m) infinite.
    tiny = np.finfo(np.float64).tiny
    p, q = np.where(p < tiny, 0.0, p), np.where(q < tiny, 0.0, q)
    m = 0.5 * (p + q)
    return _in_range(0.5 * kl_divergence(p, m, grid) + 0.5 * kl_divergence(q, m, grid), 0.0, LOG2, "JS")


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
# One moment of a 1-D GAN's training
# --------------------------------------------------------------------------------------------

@dataclass
class Snapshot:
    """The state of a 1-D GAN at one moment of training, all on one grid ``(m,)``.

    Attributes:
        epoch: epochs finished (0 = before training).
        samples: G's outputs on the fixed noise, float32 ``(n,)``; G is the generator D was
            trained against (``GAN.generator``, not its moving average), so that D and D* compare.
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


# --------------------------------------------------------------------------------------------
# Input checks, shared with gan_utils.models and gan_utils.plotting
# --------------------------------------------------------------------------------------------

def as_samples(samples) -> np.ndarray:
    """``samples`` ``(n,)`` or ``(n, 1)`` as float64 ``(n,)``, checked to be non-empty and finite."""
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 1 or len(x) == 0:
        raise ValueError(f"samples must be a non-empty array (n,) or (n, 1), got shape {np.shape(samples)}.")
    if not np.all(np.isfinite(x)):
        raise ValueError("samples contain NaN or infinite values: did training diverge?")
    return x


def as_grid(grid) -> np.ndarray:
    """``grid`` as float64 ``(m,)``, checked to be 1-D, increasing and at least 3 points long."""
    grid = np.asarray(grid, dtype=np.float64)
    if grid.ndim != 1 or len(grid) < 3 or not np.all(np.diff(grid) > 0):
        raise ValueError(f"grid must be an increasing 1-D array of at least 3 points (see make_grid), got shape {grid.shape}.")
    return grid


def _in_range(value: float, low: float, high: float, name: str) -> float:
    """``value`` clipped to [low, high] when outside by rounding only; a ValueError when outside by more."""
    if not low - ROUNDING_TOLERANCE <= value <= high + ROUNDING_TOLERANCE:
        if math.isnan(value):
            side = "not a number"
        else:
            side = f"below {low:g}" if value < low else f"above {'log 2 = 0.6931' if high == LOG2 else high}"
        raise ValueError(
            f"{name} = {value!r} nats, {side} by more than rounding error ({ROUNDING_TOLERANCE:g}). "
            f"For two densities normalised on the same grid that is impossible, so the computation "
            f"itself is wrong: look for a change to integrate(), _density() or kl_divergence()."
        )
    return float(min(max(value, low), high))


def _density(values, grid, name) -> np.ndarray:
    values, grid = np.asarray(values, dtype=np.float64), as_grid(grid)
    if values.shape != grid.shape:
        raise ValueError(f"{name} must hold one value per grid point, shape {grid.shape}, got {values.shape}.")
    if np.any(values < 0) or not np.all(np.isfinite(values)):
        raise ValueError(f"{name} must be a density: finite values >= 0.")
    mass = integrate(values, grid)
    if not mass > 0:
        raise ValueError(f"{name} has no mass on this grid: widen the grid (make_grid(low, high)).")
    return values / mass

