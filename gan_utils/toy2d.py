"""Notebook 5's 2-D playground: mixtures of Gaussians in the plane, and two mode metrics (NumPy only).

The standard mode-collapse benchmarks (Metz et al. 2016, Unrolled GANs; Srivastava et al.
2017, VEEGAN): 8 Gaussians on a ring and 25 on a grid, every mode with the same small
standard deviation and the same weight. A generator's samples are read against the modes:

* **high-quality share**: the share of samples within ``sigmas`` (3) standard deviations of
  some mode's centre;
* **modes covered**: how many modes receive at least ``min_share`` of the samples within that
  distance (by default a quarter of a mode's fair share, ``0.25 / modes``: 3.1% of the
  samples for 8 modes, 1% for 25).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Mixture2D:
    """Equal-weight isotropic Gaussians in the plane.

    Attributes:
        centres: float64 ``(modes, 2)``, the modes' means.
        std: the standard deviation of every mode, in each coordinate.
        name: a short description for titles.
    """

    centres: np.ndarray
    std: float
    name: str = "mixture"

    @property
    def modes(self) -> int:
        return len(self.centres)

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` points, float32 ``(n, 2)``: a uniformly chosen mode plus N(0, std²) noise."""
        n = _positive_int(n, "n")
        rng = np.random.default_rng(seed)
        which = rng.integers(self.modes, size=n)
        points = self.centres[which] + self.std * rng.standard_normal((n, 2))
        return points.astype(np.float32)


def ring(modes: int = 8, radius: float = 2.0, std: float = 0.02) -> Mixture2D:
    """``modes`` Gaussians evenly spaced on a circle of ``radius`` around the origin (Metz et al.)."""
    modes = _positive_int(modes, "modes")
    _check_positive(radius, "radius")
    _check_positive(std, "std")
    angles = 2 * np.pi * np.arange(modes) / modes
    centres = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return Mixture2D(centres, float(std), f"{modes} Gaussians on a ring")


def grid(side: int = 5, spacing: float = 2.0, std: float = 0.05) -> Mixture2D:
    """``side x side`` Gaussians on a square grid centred on the origin, ``spacing`` apart (VEEGAN's 25)."""
    side = _positive_int(side, "side")
    _check_positive(spacing, "spacing")
    _check_positive(std, "std")
    ticks = spacing * (np.arange(side) - (side - 1) / 2)
    centres = np.array([(x, y) for x in ticks for y in ticks], dtype=np.float64)
    return Mixture2D(centres, float(std), f"{side * side} Gaussians on a grid")


@dataclass(frozen=True)
class ModeReport:
    """How a set of samples covers a mixture's modes (see the module docstring).

    Attributes:
        shares: float64 ``(modes,)``, the share of all samples near each mode.
        high_quality: share of samples within ``sigmas`` standard deviations of some mode, in [0, 1].
        modes_covered: number of modes whose share is at least ``min_share``.
        min_share: the threshold used.
    """

    shares: np.ndarray
    high_quality: float
    modes_covered: int
    min_share: float

    def __str__(self) -> str:
        return f"{self.modes_covered} of {len(self.shares)} modes covered, {self.high_quality:.0%} high-quality samples"


def mode_report(samples, mixture: Mixture2D, sigmas: float = 3.0, min_share: float | None = None) -> ModeReport:
    """Read ``samples`` ``(n, 2)`` against ``mixture``'s modes: shares, high-quality share, modes covered."""
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim != 2 or samples.shape[1] != 2 or len(samples) == 0:
        raise ValueError(f"samples must be points of the plane, shape (n, 2) with n >= 1; got shape {samples.shape}.")
    if not np.all(np.isfinite(samples)):
        raise ValueError("samples contain NaN or infinite values: the generator diverged.")
    _check_positive(sigmas, "sigmas")
    min_share = 0.25 / mixture.modes if min_share is None else float(min_share)
    if not 0.0 < min_share <= 1.0:
        raise ValueError(f"min_share must be in (0, 1], got {min_share!r}.")
    distances = np.linalg.norm(samples[:, None, :] - mixture.centres[None, :, :], axis=2)  # (n, modes)
    nearest = distances.argmin(axis=1)
    close = distances[np.arange(len(samples)), nearest] <= sigmas * mixture.std
    shares = np.bincount(nearest[close], minlength=mixture.modes) / len(samples)
    return ModeReport(shares, float(close.mean()), int(np.sum(shares >= min_share)), min_share)


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def _check_positive(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}.")
