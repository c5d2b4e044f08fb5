"""Walks through a generator's latent space: spherical (``slerp``) and linear (``lerp``) interpolation.

Why not a straight line? A generator is trained on noise ``z ~ N(0, I_d)``. In high dimension
such vectors all have almost the same length, ``|z| ~ sqrt(d)`` (10 for d = 100), and two
independent ones are almost orthogonal. The straight-line midpoint ``(z0 + z1) / 2`` of two such
vectors is itself ``N(0, I_d / 2)``, so its length is about ``sqrt(d / 2)``: shorter by a factor
of about ``1 / sqrt(2)``. G has practically never seen a vector that short, and the middle of a
linear walk shows it (faint or blurred images). Spherical interpolation (White 2016, *Sampling
Generative Networks*, https://arxiv.org/abs/1609.04468) follows the great circle between the
two directions instead:

    slerp(z0, z1; t) = sin((1 - t) w) / sin(w) * z0  +  sin(t w) / sin(w) * z1,

where ``w`` is the angle between ``z0`` and ``z1``. When ``|z0| = |z1|`` every point of the
walk has that same length; otherwise the length varies smoothly between the two.

When the endpoints are parallel or anti-parallel (``sin w = 0``), or one of them is the zero
vector, the great circle is not defined and both functions here give the straight line. This is
what White's own code does too; for anti-parallel endpoints the line passes through 0.

Shapes (``d`` is the latent dimension):

* endpoints ``z0``, ``z1``: both ``(d,)``, or both ``(n, d)`` for n walks at once (row i of
  ``z0`` to row i of ``z1``);
* ``t``: a scalar, or ``(k,)`` for k points along each walk; ``t = 0`` gives ``z0`` and
  ``t = 1`` gives ``z1`` (other values extrapolate along the same circle or line);
* result: the endpoints' shape for a scalar ``t``, with a leading ``k`` axis otherwise:
  ``(k, d)`` or ``(k, n, d)``.

The functions are NumPy only (no TensorFlow), and accept anything ``np.asarray`` understands,
eager tensors included. The result is float32 when both endpoints are float32, float64 otherwise.
"""

from __future__ import annotations

import numpy as np

__all__ = ["slerp", "lerp", "walk", "PARALLEL_TOLERANCE"]

# Below this value of sin(w) the endpoints count as (anti)parallel and the walk is the straight
# line. Near w = 0 the two interpolations differ by O(w^2) relative to |z|, so switching at
# 1e-6 changes the result by about 1e-12: invisible, and far from dividing by a rounding error.
PARALLEL_TOLERANCE = 1e-6


def slerp(z0, z1, t):
    """Spherical interpolation from ``z0`` to ``z1`` (White 2016).

    Args:
        z0: start point(s), float array ``(d,)`` or ``(n, d)``.
        z1: end point(s), the same shape as ``z0``.
        t: position(s) along the walk, a finite float or a float array ``(k,)``; 0 gives
            ``z0``, 1 gives ``z1``.

    Returns:
        The interpolated point(s): ``(d,)`` or ``(n, d)`` for a scalar ``t``, ``(k, d)`` or
        ``(k, n, d)`` for ``t`` of shape ``(k,)``. Pairs of endpoints that are parallel,
        anti-parallel or include a zero vector are interpolated linearly (see ``lerp``).

    Raises:
        ValueError: if the endpoints' shapes differ or are not ``(d,)``/``(n, d)``, if ``t`` is
            not a scalar or 1-D, or if any value is not finite.
    """
    a, b, dtype = _endpoints(z0, z1, "slerp")
    tt = _times(t, a.ndim, "slerp")
    na = np.linalg.norm(a, axis=-1, keepdims=True)
    nb = np.linalg.norm(b, axis=-1, keepdims=True)
    zero = (na == 0) | (nb == 0)
    ua = a / np.where(zero, 1.0, na)
    ub = b / np.where(zero, 1.0, nb)
    # The angle between the unit vectors. 2 * atan2(|ua - ub|, |ua + ub|) is accurate at every
    # angle, where arccos(ua . ub) loses half its digits near 0 and near pi.
    omega = 2.0 * np.arctan2(np.linalg.norm(ua - ub, axis=-1, keepdims=True),
                             np.linalg.norm(ua + ub, axis=-1, keepdims=True))
    sin_omega = np.sin(omega)
    straight = zero | (sin_omega < PARALLEL_TOLERANCE)
    safe = np.where(straight, 1.0, sin_omega)
    w0 = np.where(straight, 1.0 - tt, np.sin((1.0 - tt) * omega) / safe)
    w1 = np.where(straight, tt, np.sin(tt * omega) / safe)
    return (w0 * a + w1 * b).astype(dtype)


def lerp(z0, z1, t):
    """Linear interpolation ``(1 - t) z0 + t z1``, with the same shapes and checks as ``slerp``.

    It is here for comparison: for independent ``z0, z1 ~ N(0, I_d)`` with large d, the
    midpoint's norm is about ``1 / sqrt(2)`` of the endpoints' norms.
    """
    a, b, dtype = _endpoints(z0, z1, "lerp")
    tt = _times(t, a.ndim, "lerp")
    return ((1.0 - tt) * a + tt * b).astype(dtype)


def walk(z0, z1, steps: int, method: str = "slerp"):
    """``steps`` evenly spaced points from ``z0`` to ``z1``, both included.

    Args:
        z0: start point, float array ``(d,)``.
        z1: end point, float array ``(d,)``.
        steps: number of points, an int >= 2.
        method: ``"slerp"`` (default, along the great circle) or ``"lerp"`` (straight line).

    Returns:
        Array ``(steps, d)``: row 0 is ``z0``, row ``steps - 1`` is ``z1``. Feed it to a
        generator as one batch of noise.
    """
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 2:
        raise ValueError(f"walk: steps must be an int >= 2 (both endpoints are included), got {steps!r}")
    if method not in ("slerp", "lerp"):
        raise ValueError(f"walk: method must be 'slerp' or 'lerp', got {method!r}")
    shape0, shape1 = np.shape(z0), np.shape(z1)
    if len(shape0) != 1 or len(shape1) != 1:
        raise ValueError(
            f"walk: z0 and z1 must be single latent vectors of shape (latent_dim,), got {shape0} and "
            f"{shape1}; for several walks at once call slerp(z0, z1, np.linspace(0, 1, steps)) "
            "with (n, latent_dim) endpoints")
    ts = np.linspace(0.0, 1.0, int(steps))
    return (slerp if method == "slerp" else lerp)(z0, z1, ts)


# --------------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------------

def _endpoints(z0, z1, who):
    a, b = np.asarray(z0), np.asarray(z1)
    for name, v in (("z0", a), ("z1", b)):
        if not (np.issubdtype(v.dtype, np.floating) or np.issubdtype(v.dtype, np.integer)):
            raise ValueError(f"{who}: {name} must hold real numbers, got dtype {v.dtype}")
        if v.ndim not in (1, 2) or v.shape[-1] == 0:
            raise ValueError(
                f"{who}: {name} must have shape (latent_dim,) or (n, latent_dim), got {v.shape}")
    if a.shape != b.shape:
        raise ValueError(f"{who}: z0 and z1 must have the same shape, got {a.shape} and {b.shape}")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError(f"{who}: z0 and z1 must be finite (no NaN or inf)")
    dtype = np.float32 if a.dtype == np.float32 and b.dtype == np.float32 else np.float64
    return a.astype(np.float64), b.astype(np.float64), dtype


def _times(t, endpoint_ndim, who):
    try:
        tt = np.asarray(t, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{who}: t must be a float or a 1-D array of floats, got {t!r}") from None
    if tt.ndim > 1:
        raise ValueError(f"{who}: t must be a scalar or have shape (k,), got shape {tt.shape}")
    if not np.all(np.isfinite(tt)):
        raise ValueError(f"{who}: t must be finite, got {t!r}")
    # (k,) -> (k, 1) or (k, 1, 1): one point per t, broadcast over the endpoints' axes.
    return tt.reshape(tt.shape + (1,) * endpoint_ndim)
