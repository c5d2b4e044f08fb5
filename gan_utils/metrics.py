"""How good are the generated digits? Figures read from the judge (``gan_utils.judge``).

The judge is a small MNIST classifier trained here once and cached. From its features and
predictions this module computes:

- **classifier FID**: the Frechet distance between Gaussians fitted to the judge's
  penultimate features of real and of generated digits (lower is better, 0 is ideal);
- **classifier score**: the Inception Score analogue ``exp(E_x KL(p(y|x) || p(y)))``, in
  [1, 10] (higher is better: confident and varied predictions);
- **precision and recall** (Kynkaanniemi et al. 2019, "Improved Precision and Recall Metric
  for Assessing Generative Models"): in the same features, the share of generated digits that
  fall inside the region real digits fill (do they look real?) and the share of real digits
  inside the region the generated ones fill (is all of the variety drawn?), both in [0, 1];
- **mode coverage**: the normalised entropy of the judge's class histogram, in [0, 1];
- **label accuracy**: does a conditional GAN draw the digit that it was asked for?

These numbers mean something only next to a reference: the same judge, the same digits and
the same sample size (FID grows as the sample shrinks; precision and recall move with it too).
``evaluate`` therefore reports the figures of real held-out digits beside every figure of the
generated ones: FID's floor, and precision's and recall's ceilings.
"""

from __future__ import annotations

import numpy as np

from . import data
from .judge import NUM_CLASSES, Judge, load_judge, unit_images  # noqa: F401  (load_judge: the notebooks' entry point)

PR_K = 3  # neighbours per k-NN ball for precision and recall, as in Kynkaanniemi et al. (2019)
_BLOCK_ENTRIES = 1 << 22  # distances held at once: 4M float64 = 32 MB, whatever the sample sizes
_ROUND_OFF = 64 * np.finfo(np.float64).eps  # relative error allowed in |a|^2 + |b|^2 - 2ab


def fid_from_features(features1, features2) -> float:
    """The Frechet distance between Gaussians fitted to two sets of features.

    ``FID = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1^1/2 S2 S1^1/2)^1/2)``, in float64. The
    symmetric form is computed with eigendecompositions whose eigenvalues are clipped at 0,
    so singular covariances (dead ReLU units, fewer samples than features) stay finite.

    Args:
        features1, features2: arrays ``(N1, F)`` and ``(N2, F)``, at least 2 rows each.

    Returns:
        A float >= 0; 0 for identical statistics (round-off below 0 is clipped).

    Raises:
        ArithmeticError: when the result is negative beyond round-off, which only a bug can cause.
    """
    mu1, sigma1 = _moments(features1, "features1")
    mu2, sigma2 = _moments(features2, "features2")
    if mu1.shape != mu2.shape:
        raise ValueError(
            f"features1 has {mu1.shape[0]} features per row and features2 {mu2.shape[0]}: "
            "both must come from the same layer."
        )
    root1 = _psd_sqrt(sigma1)
    cross = np.linalg.eigvalsh(_symmetric(root1 @ sigma2 @ root1)).clip(min=0.0)
    fid = np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.sum(np.sqrt(cross))
    scale = np.sum(mu1**2) + np.sum(mu2**2) + np.trace(sigma1) + np.trace(sigma2)
    return _clip_round_off(float(fid), _fid_tolerance(len(mu1), float(scale)), "FID")


def _fid_tolerance(num_features: int, scale: float) -> float:
    """How far below 0 round-off can push an FID of ``num_features`` features of total size ``scale``.

    The square roots of the covariances' round-off eigenvalues (about ``eps * lambda``) add up to
    about ``num_features * sqrt(eps) * scale``; on random low-rank features the worst seen was a
    third of that. Four times it still lies far below any FID worth reading.
    """
    return 4.0 * num_features * np.sqrt(np.finfo(np.float64).eps) * scale


def _clip_round_off(value: float, tolerance: float, name: str) -> float:
    """``value`` clipped at 0 when it is negative by at most ``tolerance`` (round-off); an error beyond.

    Clipping a larger negative value would hide a bug, so it raises instead.
    """
    if value >= 0.0:
        return value
    if value >= -tolerance:
        return 0.0
    raise ArithmeticError(
        f"{name} came out as {value:.4g}, below 0 by more than round-off (tolerance {tolerance:.3g}): "
        "the computation is wrong, and clipping it to 0 would hide that. Please report it with the inputs."
    )


def _moments(features, name: str):
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"{name} must be a 2-D array (N, F) with N >= 2 rows, got shape {x.shape}.")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or inf: check the images that produced it.")
    return x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False))


def _symmetric(matrix):
    return (matrix + matrix.T) / 2.0


def _psd_sqrt(matrix):
    """The symmetric square root of a covariance, with round-off negative eigenvalues set to 0."""
    values, vectors = np.linalg.eigh(_symmetric(matrix))
    return (vectors * np.sqrt(values.clip(min=0.0))) @ vectors.T


def knn_radii(features, k: int = PR_K) -> np.ndarray:
    """The radius of each sample's k-nearest-neighbour ball: its distance to its k-th nearest other sample.

    Distances are Euclidean, computed blockwise in float64 (see ``precision_recall_from_features``).
    A duplicate of a sample counts as a neighbour at distance 0.

    Args:
        features: array ``(N, F)`` with N > k finite rows.
        k: positive int, the neighbour whose distance sets the radius (3 in the paper).

    Returns:
        float64 ``(N,)``, non-negative.
    """
    k = _check_k(k)
    x = _pr_features(features, "features", k)
    x = x - x.mean(axis=0)
    return np.sqrt(_squared_knn_radii(x, np.einsum("ij,ij->i", x, x), k))


def precision_recall_from_features(real_features, fake_features, k: int = PR_K) -> dict:
    """Improved precision and recall (Kynkaanniemi et al. 2019) of two sets of features.

    Each sample gets a ball reaching to its k-th nearest neighbour within its own set; the
    balls of a set stand for the region (the "manifold") that the set fills.

    - **precision**: the share of fake samples inside at least one real sample's ball (do the
      samples look like real data?);
    - **recall**: the share of real samples inside at least one fake sample's ball (is all of
      the real data drawn?).

    Balls are closed (a point on the boundary is inside). Distances use
    ``|a - b|^2 = |a|^2 + |b|^2 - 2 a.b`` in float64 on centred features, a block of rows at a
    time, so that memory stays bounded (about 32 MB) and 5,000 x 5,000 samples of 128 features
    take about a second on a 2-core CPU; comparisons allow for that formula's round-off. Both figures depend on the set
    sizes (more samples, smaller balls): compare only figures computed at the same sizes.

    Args:
        real_features: array ``(N_real, F)`` with N_real > k finite rows.
        fake_features: array ``(N_fake, F)`` with N_fake > k finite rows.
        k: positive int, the neighbour that sets each ball's radius (3 in the paper).

    Returns:
        ``{"precision": float in [0, 1], "recall": float in [0, 1]}``; identical sets give 1 and 1.
    """
    k = _check_k(k)
    real = _pr_features(real_features, "real_features", k)
    fake = _pr_features(fake_features, "fake_features", k)
    if real.shape[1] != fake.shape[1]:
        raise ValueError(
            f"real_features has {real.shape[1]} features per row and fake_features {fake.shape[1]}: "
            "both must come from the same layer."
        )
    return _precision_recall(_Manifold(real, k, center=real.mean(axis=0)), fake)


class _Manifold:
    """A set of features centred on ``center``, with squared norms and squared k-NN radii, reusable."""

    def __init__(self, features, k: int, center):
        self.center = center
        self.x = features - center
        self.squares = np.einsum("ij,ij->i", self.x, self.x)
        self.radii2 = _squared_knn_radii(self.x, self.squares, k)
        self.k = k


def _precision_recall(real: _Manifold, fake_features) -> dict:
    fake = _Manifold(fake_features, real.k, real.center)
    fake_inside = np.zeros(len(fake.x), dtype=bool)
    real_inside = np.zeros(len(real.x), dtype=bool)
    for rows in _row_blocks(len(real.x), len(fake.x)):
        total = real.squares[rows, None] + fake.squares[None, :]
        squared = total - 2.0 * (real.x[rows] @ fake.x.T)
        squared -= _ROUND_OFF * total  # err towards "inside": identical points must count as inside
        fake_inside |= (squared <= real.radii2[rows, None]).any(axis=0)
        real_inside[rows] = (squared <= fake.radii2[None, :]).any(axis=1)
    return {"precision": float(fake_inside.mean()), "recall": float(real_inside.mean())}


def _squared_knn_radii(x, squares, k: int) -> np.ndarray:
    radii2 = np.empty(len(x))
    for rows in _row_blocks(len(x), len(x)):
        squared = np.maximum(squares[rows, None] + squares[None, :] - 2.0 * (x[rows] @ x.T), 0.0)
        squared[np.arange(rows.stop - rows.start), np.arange(rows.start, rows.stop)] = np.inf  # not its own neighbour
        radii2[rows] = np.partition(squared, k - 1, axis=1)[:, k - 1]
    return radii2


def _row_blocks(n_rows: int, n_columns: int):
    step = max(1, _BLOCK_ENTRIES // max(1, n_columns))
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))


def _check_k(k) -> int:
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive integer (the paper uses 3), got {k!r}.")
    return int(k)


def _pr_features(features, name: str, k: int) -> np.ndarray:
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or len(x) <= k:
        raise ValueError(
            f"{name} must be a 2-D array (N, F) with more than k={k} rows (each sample needs k "
            f"neighbours), got shape {x.shape}. Pass more samples or a smaller k."
        )
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or inf: check the images that produced it.")
    return x


def classifier_fid(judge: Judge, real_images, fake_images, value_range: str) -> float:
    """FID between the judge's features of real and generated images (both in ``value_range``).

    Compare only FIDs computed on the same numbers of images: the value grows as samples shrink.
    """
    return fid_from_features(judge.features(real_images, value_range), judge.features(fake_images, value_range))


def label_accuracy(judge: Judge, images, labels, value_range: str) -> dict:
    """How often the judge reads each image as the digit that it was meant to be.

    Args:
        images: a batch in ``value_range`` (see ``Judge``).
        labels: ints ``(N,)`` in 0..9, the digit each image should show.

    Returns:
        ``{"overall": float, "per_digit": float64 array (10,)}``, with NaN for the digits
        absent from ``labels``.
    """
    labels = data.check_labels(labels, len(unit_images(images, value_range)), NUM_CLASSES)
    return _label_accuracy(judge.predict(images, value_range), labels)


def _label_accuracy(predicted, labels) -> dict:
    hits = predicted == labels
    per_digit = np.full(NUM_CLASSES, np.nan)
    for digit in np.unique(labels):
        per_digit[digit] = hits[labels == digit].mean()
    return {"overall": float(hits.mean()), "per_digit": per_digit}


def class_histogram(judge: Judge, images, value_range: str) -> np.ndarray:
    """How many images the judge assigns to each digit: int64 ``(10,)``, summing to N."""
    return _histogram(judge.predict(images, value_range))


def _histogram(predicted) -> np.ndarray:
    return np.bincount(predicted, minlength=NUM_CLASSES).astype(np.int64)


def mode_coverage(histogram) -> float:
    """Mode coverage: the normalised entropy of a class histogram, in [0, 1].

    ``coverage = -sum_k p_k log p_k / log 10`` with ``p = histogram / histogram.sum()``.
    It is 1.0 when the ten digits are equally frequent, 0.0 when all images are one digit,
    and ``log(k) / log(10)`` for k equally frequent digits (0.70 for five, 0.30 for two).

    Args:
        histogram: 10 non-negative counts (or frequencies), for example from ``class_histogram``.
    """
    counts = np.asarray(histogram, dtype=np.float64)
    if counts.shape != (NUM_CLASSES,) or not np.isfinite(counts).all() or (counts < 0).any() or counts.sum() <= 0:
        raise ValueError(
            f"histogram must be 10 non-negative counts with a positive sum (see class_histogram), "
            f"got {np.asarray(histogram).tolist()}."
        )
    p = counts[counts > 0] / counts.sum()
    return float(np.clip(np.sum(p * np.log(1.0 / p)) / np.log(NUM_CLASSES), 0.0, 1.0))


def classifier_score(judge: Judge, images, value_range: str) -> float:
    """The Inception Score analogue ``exp(E_x KL(p(y|x) || p(y)))``, in [1, 10].

    High when each image is confidently one digit (sharp ``p(y|x)``) and the digits vary
    (flat ``p(y)``, the mean prediction). Real MNIST scores close to 10.
    """
    return _score(judge.predict_proba(images, value_range))


def _score(probs) -> float:
    p = np.clip(probs, 1e-12, 1.0)
    marginal = p.mean(axis=0)
    kl = np.sum(p * (np.log(p) - np.log(marginal)), axis=1)
    return float(np.clip(np.exp(kl.mean()), 1.0, float(NUM_CLASSES)))


def real_reference(judge: Judge, n: int, digits=None, seed: int = 0, k: int = PR_K) -> dict:
    """What real digits score with this judge, at sample size ``n``: the floor or ceiling of each figure.

    The reference set is the test split of ``digits`` (never seen by the judge). ``n`` real
    *training* images stand in for a perfect generator and are compared with it, exactly as
    ``evaluate`` compares ``n`` generated images: FID against the whole test split, precision
    and recall against ``min(n, test images)`` of them, picked by ``seed``. Training and test
    images are disjoint, so these are real-against-real figures.

    Args:
        n: images per sample, an int from k + 1 to the number of training images of ``digits``.
        digits: None for all digits, or an int or list of ints in 0..9.
        seed: picks the samples.
        k: neighbours per ball for precision and recall.

    Returns:
        ``{"n", "digits", "fid": FID(n training images, test split) >= 0, "accuracy": the
        judge's accuracy on the test images of these digits (its test_accuracy when digits is
        None), "coverage" and "score" of the test images, "precision" and "recall" in [0, 1] of
        the n training images against the test images, "k", "pr_real_n": how many test images
        those two used}``.
    """
    return dict(_reference(judge, n, digits, seed, k)[0])


def _reference(judge: Judge, n: int, digits, seed: int, k: int):
    """(figures, features of the test split, _Manifold of the test images for precision/recall), memoised."""
    wanted = data.check_digits(digits)
    k = _check_k(k)
    _check_sample_size(n, _available(wanted), wanted, judge.source, k)
    key = (int(n), None if wanted is None else tuple(wanted), seed, k)
    if key not in judge._references:
        judge._references[key] = _compute_reference(judge, int(n), wanted, seed, k)
    return judge._references[key]


def _compute_reference(judge: Judge, n: int, wanted, seed: int, k: int):
    train, _ = data.load_mnist(wanted, split="train", value_range="sigmoid", verbose=False)
    test, test_labels = data.load_mnist(wanted, split="test", value_range="sigmoid", verbose=False)
    rng = np.random.default_rng(seed)
    train_features = judge.features(train[rng.choice(len(train), n, replace=False)], "sigmoid")
    test_features, probs = judge._outputs(test, "sigmoid")
    # Precision and recall depend on both set sizes: as many real images as samples, where the split allows.
    pr_real = test_features[np.sort(rng.choice(len(test), min(n, len(test)), replace=False))]
    manifold = _Manifold(pr_real, k, center=pr_real.mean(axis=0))
    figures = {
        "n": n,
        "digits": wanted,
        "fid": fid_from_features(train_features, test_features),
        "accuracy": float(np.mean(probs.argmax(axis=1) == test_labels)),
        "coverage": mode_coverage(_histogram(probs.argmax(axis=1))),
        "score": _score(probs),
        **_precision_recall(manifold, train_features),
        "k": k,
        "pr_real_n": len(pr_real),
    }
    return figures, test_features, manifold


def _available(wanted) -> int:
    """The most real training images a sample of these digits can hold."""
    raw = data.load_raw_mnist()
    if wanted is None:
        return len(raw.y_train)
    return int(np.isin(raw.y_train, wanted).sum())


def _check_sample_size(n, available: int, wanted, source: str, k: int):
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or not k < n <= available:
        which = "all digits" if wanted is None else f"digits {wanted}"
        raise ValueError(
            f"n must be an integer from {k + 1} (precision and recall need more than k={k} images) to "
            f"{available:,} (the real training images of {which} in {source}), got {n!r}."
        )


def evaluate(judge: Judge, fake_images, *, value_range: str, labels=None, digits=None,
             reference_n: int | None = None, k: int = PR_K) -> dict:
    """Every figure for a batch of generated digits, each beside the figure of real digits.

    ``n`` generated images are compared with the test split of ``digits``, and ``n`` real
    training images with the same test images give the real reference (see
    ``real_reference``): FID against the whole split, precision and recall against
    ``min(n, test images)`` of it. ``n`` is ``reference_n``, by default as many as both the
    fakes and the real training images of ``digits`` allow. Histogram, coverage, score and
    label accuracy use every fake.

    How to read them: FID (lower is better) has a floor, the real FID; precision (are the
    samples realistic?) and recall (do they cover all real variety?) have ceilings, the real
    figures, usually a little below 1.

    Args:
        fake_images: generated batch ``(N, 28, 28, 1)`` or ``(N, 28, 28)`` in ``value_range``,
            N > k.
        labels: optional ints ``(N,)`` in 0..9, the digits a conditional GAN was asked for.
        digits: the digits the GAN was trained on (None: all, or the distinct ``labels``).
        value_range: "sigmoid" for [0, 1] or "tanh" for [-1, 1].
        reference_n: sample size for FID, precision, recall and the real reference.
        k: neighbours per ball for precision and recall (3, as in Kynkaanniemi et al. 2019).

    Returns:
        A dict with ``n``, ``digits``, ``fid``, ``fid_real_reference``, ``precision``,
        ``precision_real_reference``, ``recall``, ``recall_real_reference`` (the last four in
        [0, 1]), ``k``, ``pr_real_n`` (the test images precision and recall compare with),
        ``coverage``, ``coverage_real_reference``, ``histogram`` (int64 (10,)), ``score``,
        ``score_real_reference``, and with labels also ``label_accuracy``,
        ``per_digit_accuracy`` (float64 (10,), NaN for digits not asked for) and
        ``accuracy_real_reference``.
    """
    fake = unit_images(fake_images, value_range)
    if labels is not None:
        labels = data.check_labels(labels, len(fake), NUM_CLASSES)
        digits = np.unique(labels).tolist() if digits is None else digits
    wanted = data.check_digits(digits)
    k = _check_k(k)
    n = _evaluation_size(reference_n, len(fake), _available(wanted), k)
    reference, test_features, manifold = _reference(judge, n, wanted, 0, k)
    features, probs = judge._outputs(fake, "sigmoid")
    pick = np.random.default_rng(0).choice(len(fake), n, replace=False)
    histogram = _histogram(probs.argmax(axis=1))
    fake_pr = _precision_recall(manifold, features[pick])
    result = {
        "n": n,
        "digits": wanted,
        "fid": fid_from_features(features[pick], test_features),
        "fid_real_reference": reference["fid"],
        "precision": fake_pr["precision"],
        "precision_real_reference": reference["precision"],
        "recall": fake_pr["recall"],
        "recall_real_reference": reference["recall"],
        "k": k,
        "pr_real_n": reference["pr_real_n"],
        "coverage": mode_coverage(histogram),
        "coverage_real_reference": reference["coverage"],
        "histogram": histogram,
        "score": _score(probs),
        "score_real_reference": reference["score"],
    }
    if labels is not None:
        accuracy = _label_accuracy(probs.argmax(axis=1), labels)
        result.update(label_accuracy=accuracy["overall"], per_digit_accuracy=accuracy["per_digit"],
                      accuracy_real_reference=reference["accuracy"])
    return result


def _evaluation_size(reference_n, n_fake: int, available: int, k: int) -> int:
    limit = min(n_fake, available)
    if n_fake <= k:
        raise ValueError(
            f"evaluate needs more than k={k} generated images (FID needs 2, precision and recall k + 1), "
            f"got {n_fake}."
        )
    if reference_n is None:
        reference_n = limit
    if not isinstance(reference_n, (int, np.integer)) or isinstance(reference_n, bool) or not k < reference_n <= limit:
        raise ValueError(
            f"reference_n must be an integer from {k + 1} to {limit:,} (the fewer of the {n_fake:,} fakes "
            f"and the {available:,} real training images), got {reference_n!r}. Pass a smaller one or None."
        )
    return int(reference_n)


def table(results: dict) -> str:
    """A text table of ``evaluate`` results, one row per model, each figure beside real data's.

    Args:
        results: ``{row name: evaluate(...) result}``, e.g. ``{"live run, 3,000 steps": a,
            "trained generator, 40,000 steps": b}``. Rows must share the sample size ``n`` to
            be comparable; the table prints it.

    Returns:
        The table as a string (print it): FID with the real floor, precision and recall with
        the real ceilings, and the label accuracy with real digits' when the results have one.
    """
    if not results:
        raise ValueError("results is empty: pass {name: metrics.evaluate(...)}.")
    width = max(len(name) for name in results)
    labelled = all("label_accuracy" in r for r in results.values())
    header = f"{'':<{width}}  {'n':>6}  {'FID (real)':>14}  {'precision (real)':>17}  {'recall (real)':>14}"
    header += f"  {'label accuracy (real)':>22}" if labelled else ""
    lines = [header]
    for name, r in results.items():
        line = (f"{name:<{width}}  {r['n']:>6,}  {r['fid']:>6.2f} ({r['fid_real_reference']:>5.2f})  "
                f"{r['precision']:>8.3f} ({r['precision_real_reference']:.3f})  "
                f"{r['recall']:>5.3f} ({r['recall_real_reference']:.3f})")
        if labelled:
            line += f"  {r['label_accuracy']:>13.1%} ({r['accuracy_real_reference']:.1%})"
        lines.append(line)
    return "\n".join(lines)
