"""How good are the generated digits? Metrics judged by a small MNIST classifier trained here.

FID and the Inception Score use an Inception network whose weights must be downloaded and
which was made for 299x299 colour photos. This module trains its own MNIST "judge" instead,
a small CNN, and caches it on disk. Its figures are:

- **classifier FID**: the Frechet distance between Gaussians fitted to the judge's
  penultimate features of real and of generated digits (lower is better, 0 is ideal);
- **classifier score**: the Inception Score analogue ``exp(E_x KL(p(y|x) || p(y)))``, in
  [1, 10] (higher is better: confident and varied predictions);
- **mode coverage**: the normalised entropy of the judge's class histogram, in [0, 1];
- **label accuracy**: does a conditional GAN draw the digit that it was asked for?

These numbers mean something only next to a reference: the same judge, the same digits and
the same sample size (FID grows as the sample shrinks). ``evaluate`` therefore reports the
figures of real held-out digits beside every figure of the generated ones.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

from . import config, data

# Bump when the architecture or the training recipe changes: it is part of the cache key.
JUDGE_VERSION = "v1 conv32-pool-conv64-pool-dense128-drop0.5-dense10 shift0.1 adam1e-3-cosine"
TRAIN_STEPS = 1500  # optimizer steps, whatever the training set's size
MIN_EPOCHS = 2
BATCH_SIZE = 128
SHIFT = 0.1  # random shifts of up to 10% (about 3 pixels) each way
FEATURE_LAYER = "features"
NUM_CLASSES = 10
IMAGE_SHAPE = (28, 28, 1)
RANGE_SLACK = 0.05  # share of the range that pixels may overshoot before we call it a mistake

_JUDGES: dict[str, Judge] = {}  # in-process cache, keyed by the judge's file


class Judge:
    """A trained MNIST classifier that scores images.

    Attributes:
        model: the Keras classifier: float32 ``(batch, 28, 28, 1)`` in [0, 1] to a
            ``(batch, 10)`` softmax.
        test_accuracy: its accuracy on the test split of the data it was trained on.
        source: that data's description (``gan_utils.data.load_raw_mnist().description``).
        path: the cached ``.keras`` file.

    Every method takes images ``(N, 28, 28, 1)``, ``(N, 28, 28)`` or ``(N, 784)`` with pixels in
    ``value_range``: "sigmoid" for [0, 1] or "tanh" for [-1, 1].
    """

    def __init__(self, model, test_accuracy: float, source: str, path: Path):
        import keras

        self.model = model
        self.test_accuracy = float(test_accuracy)
        self.source = source
        self.path = Path(path)
        # One pass gives both outputs: evaluate() needs features and probabilities.
        self._both = keras.Model(model.inputs, [model.get_layer(FEATURE_LAYER).output, model.outputs[0]])
        self._references: dict = {}

    def __repr__(self) -> str:
        return f"Judge(test_accuracy={self.test_accuracy:.4f}, path={str(self.path)!r})"

    def predict_proba(self, images, value_range: str = "sigmoid") -> np.ndarray:
        """Class probabilities: float64 ``(N, 10)``, rows summing to 1."""
        return self._outputs(images, value_range)[1]

    def predict(self, images, value_range: str = "sigmoid") -> np.ndarray:
        """Predicted digits: int64 ``(N,)`` in 0..9."""
        return self.predict_proba(images, value_range).argmax(axis=1).astype(np.int64)

    def features(self, images, value_range: str = "sigmoid") -> np.ndarray:
        """Penultimate-layer (ReLU) features: float64 ``(N, 128)``, non-negative."""
        return self._outputs(images, value_range)[0]

    def _outputs(self, images, value_range: str):
        unit = as_unit_images(images, value_range)
        features, probs = self._both.predict(unit, batch_size=500, verbose=0)
        return features.astype(np.float64), probs.astype(np.float64)


def load_judge(seed: int = 0, verbose: bool = True) -> Judge:
    """Train the MNIST judge once, then reuse it from memory or from disk.

    The judge is trained on ``load_mnist(split="train")`` with small random shifts, for
    ``TRAIN_STEPS`` optimizer steps (at least ``MIN_EPOCHS`` epochs), and tested on
    split "test". This takes about half a minute on a laptop CPU, in quick mode too:
    the notebooks' checks need a real judge. It is saved under
    ``config.output_dir("judge")`` as a ``.keras`` file plus a ``.json`` with its test
    accuracy, in a file named after a hash of the data's pixels and labels, the seed and
    ``JUDGE_VERSION``, so another dataset or recipe gets its own judge.

    Training seeds every layer and the shuffling from ``seed`` without touching the global
    random state, so the same seed gives the same judge, and a notebook's own random
    numbers do not depend on whether the judge was cached.

    Args:
        seed: non-negative int for the weights, dropout, shifts and batch order.
        verbose: print one line saying whether the judge was trained or loaded, with its
            test accuracy and data source.

    Returns:
        A ``Judge``.
    """
    seed = config.check_seed(seed)
    raw = data.load_raw_mnist()
    path = config.output_dir("judge") / f"judge-{raw.source}-seed{int(seed)}-{_data_hash(raw, seed)}.keras"
    if str(path) in _JUDGES:
        judge = _JUDGES[str(path)]
        _say(verbose, f"Judge reused ({path.name}): test accuracy {judge.test_accuracy:.1%} on {judge.source}.")
        return judge
    judge = _load_cached(path, raw)
    if judge is not None:
        _say(verbose, f"Judge loaded from {path}: test accuracy {judge.test_accuracy:.1%} on {judge.source}.")
    else:
        judge = _train_and_save(path, raw, int(seed), verbose)
    _JUDGES[str(path)] = judge
    return judge


def _say(verbose: bool, line: str, **kwargs):
    if verbose:
        print(line, flush=True, **kwargs)


def _data_hash(raw, seed) -> str:
    recipe = f"{JUDGE_VERSION}|{TRAIN_STEPS}|{MIN_EPOCHS}|{BATCH_SIZE}|{SHIFT}"
    digest = hashlib.sha256(f"{recipe}|{raw.source}|{seed}".encode())
    for array in (raw.x_train, raw.y_train, raw.x_test, raw.y_test):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:12]


def _load_cached(path: Path, raw) -> Judge | None:
    """The judge saved at ``path``, or None when it is missing or unreadable."""
    import keras

    info_path = path.with_suffix(".json")
    if not (path.is_file() and info_path.is_file()):
        return None
    try:
        info = json.loads(info_path.read_text())
        model = keras.models.load_model(path)
    except Exception as error:  # a half-written or foreign file: train a fresh judge
        print(f"Ignoring the unreadable cached judge {path} ({type(error).__name__}); retraining.")
        return None
    return Judge(model, info["test_accuracy"], raw.description, path)


def _train_and_save(path: Path, raw, seed: int, verbose: bool) -> Judge:
    _say(verbose, f"Training the MNIST judge on {raw.description} (done once, about 30 s on a CPU)...", end=" ")
    start = time.perf_counter()
    model = _train_model(seed)
    test_images, test_labels = data.load_mnist(split="test", value_range="sigmoid", verbose=False)
    probs = model.predict(test_images, batch_size=500, verbose=0)
    accuracy = float(np.mean(probs.argmax(axis=1) == test_labels))
    seconds = time.perf_counter() - start
    _save_atomically(model, path, {
        "test_accuracy": accuracy, "source": raw.description, "seed": seed,
        "version": JUDGE_VERSION, "train_images": len(raw.x_train), "train_seconds": round(seconds, 1),
    })
    _say(verbose, f"test accuracy {accuracy:.1%} after {seconds:.0f} s; saved to {path}.")
    return Judge(model, accuracy, raw.description, path)


def build_judge(seed: int = 0):
    """The judge's architecture, untrained.

    ``(batch, 28, 28, 1)`` in [0, 1] -> Conv(32) -> pool -> Conv(64) -> pool -> Dense(128,
    ReLU) named "features" -> Dropout(0.5) -> Dense(10, softmax). Every random layer gets
    its own seed derived from ``seed``.
    """
    import keras
    from keras import layers

    def init(offset):
        return keras.initializers.GlorotUniform(seed=seed * 100 + offset)

    inputs = keras.Input(IMAGE_SHAPE)
    h = layers.Conv2D(32, 3, activation="relu", kernel_initializer=init(1))(inputs)
    h = layers.MaxPooling2D()(h)
    h = layers.Conv2D(64, 3, activation="relu", kernel_initializer=init(2))(h)
    h = layers.Flatten()(layers.MaxPooling2D()(h))
    h = layers.Dense(128, activation="relu", kernel_initializer=init(3), name=FEATURE_LAYER)(h)
    h = layers.Dropout(0.5, seed=seed * 100 + 4)(h)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", kernel_initializer=init(5), name="probs")(h)
    return keras.Model(inputs, outputs, name="mnist_judge")


def _train_model(seed: int):
    """Fit a fresh judge on the training split; returns the Keras model (without augmentation)."""
    import keras

    images, labels = data.load_mnist(split="train", value_range="sigmoid", verbose=False)
    model = build_judge(seed)
    shift = keras.layers.RandomTranslation(SHIFT, SHIFT, fill_mode="constant", seed=seed * 100 + 6)
    trainer = keras.Sequential([keras.Input(IMAGE_SHAPE), shift, model])
    batches, steps = _batches(images, labels, seed)
    schedule = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=steps)
    trainer.compile(keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy")
    trainer.fit(batches, epochs=1, shuffle=False, verbose=0)  # the batches come shuffled
    return model


def _batches(images, labels, seed: int):
    """A seeded ``tf.data`` stream of shuffled batches covering at least TRAIN_STEPS steps."""
    import tensorflow as tf

    per_epoch = max(1, len(images) // BATCH_SIZE)
    epochs = max(MIN_EPOCHS, -(-TRAIN_STEPS // per_epoch))
    # NumPy draws the order, so it does not depend on TensorFlow's global seed.
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(len(images))[: per_epoch * BATCH_SIZE] for _ in range(epochs)])
    x, y = tf.constant(images), tf.constant(labels.astype(np.int32))
    ds = tf.data.Dataset.from_tensor_slices(order).batch(min(BATCH_SIZE, len(images)))
    ds = ds.map(lambda index: (tf.gather(x, index), tf.gather(y, index)))
    return ds.prefetch(tf.data.AUTOTUNE), epochs * per_epoch


def _save_atomically(model, path: Path, info: dict):
    """Write model then JSON under temporary names and rename, so that a reader never sees half a file."""
    temp = path.with_name(f"{path.stem}.tmp{os.getpid()}.keras")
    model.save(temp)
    os.replace(temp, path)
    temp_info = path.with_name(f"{path.stem}.tmp{os.getpid()}.json")
    temp_info.write_text(json.dumps(info, indent=2))
    os.replace(temp_info, path.with_suffix(".json"))


def as_unit_images(images, value_range: str = "sigmoid") -> np.ndarray:
    """Check a batch of images and map it to float32 ``(N, 28, 28, 1)`` in [0, 1].

    Args:
        images: ``(N, 28, 28, 1)``, ``(N, 28, 28)`` or ``(N, 784)``, pixels in ``value_range``.
        value_range: "sigmoid" for [0, 1] or "tanh" for [-1, 1] (the generator's output
            activation).

    Raises:
        ValueError: for an unknown range name, another shape, an empty batch, NaN or inf,
            or pixels well outside the named range.
    """
    low, high = data.value_range_bounds(value_range)
    x = np.asarray(images)
    if x.shape[1:] in ((28, 28), (784,)):
        x = x.reshape(len(x), *IMAGE_SHAPE)
    if x.ndim != 4 or x.shape[1:] != IMAGE_SHAPE or len(x) == 0 or not np.issubdtype(x.dtype, np.number):
        raise ValueError(
            f"images must be a non-empty numeric batch of shape (N, 28, 28, 1) or (N, 28, 28), got "
            f"shape {x.shape} ({x.dtype}). Reshape with images.reshape(-1, 28, 28, 1)."
        )
    x = x.astype(np.float32)
    if not np.isfinite(x).all():
        raise ValueError("images contain NaN or inf (did training diverge?): check the generator's output.")
    slack = RANGE_SLACK * (high - low)
    if x.min() < low - slack or x.max() > high + slack:
        raise ValueError(
            f"images span [{x.min():.3g}, {x.max():.3g}] but value_range={value_range!r} means "
            f"[{low:g}, {high:g}]. Pass the range of the generator's output activation "
            "('tanh' for [-1, 1], 'sigmoid' for [0, 1]) or rescale the images."
        )
    return data.to_unit_range(x, value_range)


def fid_from_features(features1, features2) -> float:
    """The Frechet distance between Gaussians fitted to two sets of features.

    ``FID = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1^1/2 S2 S1^1/2)^1/2)``, in float64. The
    symmetric form is computed with eigendecompositions whose eigenvalues are clipped at 0,
    so singular covariances (dead ReLU units, fewer samples than features) stay finite.

    Args:
        features1, features2: arrays ``(N1, F)`` and ``(N2, F)``, at least 2 rows each.

    Returns:
        A float >= 0; 0 for identical statistics.
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
    return float(max(fid, 0.0))  # round-off can leave -1e-12 for identical inputs


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


def classifier_fid(judge: Judge, real_images, fake_images, value_range: str = "sigmoid") -> float:
    """FID between the judge's features of real and generated images (both in ``value_range``).

    Compare only FIDs computed on the same numbers of images: the value grows as samples shrink.
    """
    return fid_from_features(judge.features(real_images, value_range), judge.features(fake_images, value_range))


def label_accuracy(judge: Judge, images, labels, value_range: str = "sigmoid") -> dict:
    """How often the judge reads each image as the digit that it was meant to be.

    Args:
        images: a batch in ``value_range`` (see ``Judge``).
        labels: ints ``(N,)`` in 0..9, the digit each image should show.

    Returns:
        ``{"overall": float, "per_digit": float64 array (10,)}``, with NaN for the digits
        absent from ``labels``.
    """
    labels = data.check_labels(labels, len(as_unit_images(images, value_range)), NUM_CLASSES)
    return _label_accuracy(judge.predict(images, value_range), labels)


def _label_accuracy(predicted, labels) -> dict:
    hits = predicted == labels
    per_digit = np.full(NUM_CLASSES, np.nan)
    for digit in np.unique(labels):
        per_digit[digit] = hits[labels == digit].mean()
    return {"overall": float(hits.mean()), "per_digit": per_digit}


def class_histogram(judge: Judge, images, value_range: str = "sigmoid") -> np.ndarray:
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


def classifier_score(judge: Judge, images, value_range: str = "sigmoid") -> float:
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


def real_reference(judge: Judge, n: int, digits=None, seed: int = 0) -> dict:
    """What real digits score with this judge, at sample size ``n``.

    The reference set is the whole test split of ``digits`` (never seen by the judge). ``n``
    real *training* images stand in for a perfect generator and are compared with it, exactly
    as ``evaluate`` compares ``n`` generated images.

    Args:
        n: images per sample, >= 2; at most the number of training images of ``digits``.
        digits: None for all digits, or an int or list of ints in 0..9.
        seed: picks the sample.

    Returns:
        ``{"n", "digits", "fid": FID(n training images, test split), "accuracy": the judge's
        accuracy on the test images of these digits (its test_accuracy when digits is None),
        "coverage" and "score" of the test images}``.
    """
    figures, _ = _reference(judge, n, digits, seed)
    return dict(figures)


def _reference(judge: Judge, n: int, digits, seed: int):
    """(figures, features of the test split), memoised on the judge."""
    wanted = data.check_digits(digits)
    _check_sample_size(n, _available(wanted), wanted, judge.source)
    key = (int(n), None if wanted is None else tuple(wanted), seed)
    if key not in judge._references:
        judge._references[key] = _compute_reference(judge, int(n), wanted, seed)
    return judge._references[key]


def _compute_reference(judge: Judge, n: int, wanted, seed: int):
    train, _ = data.load_mnist(wanted, split="train", value_range="sigmoid", verbose=False)
    test, test_labels = data.load_mnist(wanted, split="test", value_range="sigmoid", verbose=False)
    rng = np.random.default_rng(seed)
    train_features = judge.features(train[rng.choice(len(train), n, replace=False)])
    test_features, probs = judge._outputs(test, "sigmoid")
    figures = {
        "n": n,
        "digits": wanted,
        "fid": fid_from_features(train_features, test_features),
        "accuracy": float(np.mean(probs.argmax(axis=1) == test_labels)),
        "coverage": mode_coverage(_histogram(probs.argmax(axis=1))),
        "score": _score(probs),
    }
    return figures, test_features


def _available(wanted) -> int:
    """The most real training images a sample of these digits can hold."""
    raw = data.load_raw_mnist()
    if wanted is None:
        return len(raw.y_train)
    return int(np.isin(raw.y_train, wanted).sum())


def _check_sample_size(n, available: int, wanted, source: str):
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or not 2 <= n <= available:
        which = "all digits" if wanted is None else f"digits {wanted}"
        raise ValueError(
            f"n must be an integer from 2 to {available:,} (the real training images of {which} in "
            f"{source}), got {n!r}. Pass a smaller n."
        )


def evaluate(judge: Judge, fake_images, labels=None, digits=None, value_range: str = "sigmoid",
             reference_n: int | None = None) -> dict:
    """Every figure for a batch of generated digits, each beside the figure of real digits.

    FID compares ``n`` generated images with the test split of ``digits``; the reference FID
    compares ``n`` real training images with the same test split. ``n`` is ``reference_n``,
    by default as many as both the fakes and the real training images of ``digits`` allow.
    Histogram, coverage, score and label accuracy use every fake.

    Args:
        fake_images: generated batch ``(N, 28, 28, 1)`` or ``(N, 28, 28)`` in ``value_range``.
        labels: optional ints ``(N,)`` in 0..9, the digits a conditional GAN was asked for.
        digits: the digits the GAN was trained on (None: all, or the distinct ``labels``).
        value_range: "sigmoid" for [0, 1] or "tanh" for [-1, 1].
        reference_n: sample size for the FIDs and the real reference.

    Returns:
        A dict with ``n``, ``digits``, ``fid``, ``fid_real_reference``, ``coverage``,
        ``coverage_real_reference``, ``histogram`` (int64 (10,)), ``score``,
        ``score_real_reference``, and with labels also ``label_accuracy``,
        ``per_digit_accuracy`` (float64 (10,), NaN for digits not asked for) and
        ``accuracy_real_reference``.
    """
    fake = as_unit_images(fake_images, value_range)
    if labels is not None:
        labels = data.check_labels(labels, len(fake), NUM_CLASSES)
        digits = np.unique(labels).tolist() if digits is None else digits
    wanted = data.check_digits(digits)
    n = _evaluation_size(reference_n, len(fake), _available(wanted))
    reference, test_features = _reference(judge, n, wanted, seed=0)
    features, probs = judge._outputs(fake, "sigmoid")
    pick = np.random.default_rng(0).choice(len(fake), n, replace=False)
    histogram = _histogram(probs.argmax(axis=1))
    result = {
        "n": n,
        "digits": wanted,
        "fid": fid_from_features(features[pick], test_features),
        "fid_real_reference": reference["fid"],
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


def _evaluation_size(reference_n, n_fake: int, available: int) -> int:
    limit = min(n_fake, available)
    if n_fake < 2:
        raise ValueError(f"evaluate needs at least 2 generated images for FID, got {n_fake}.")
    if reference_n is None:
        reference_n = limit
    if not isinstance(reference_n, (int, np.integer)) or isinstance(reference_n, bool) or not 2 <= reference_n <= limit:
        raise ValueError(
            f"reference_n must be an integer from 2 to {limit:,} (the fewer of the {n_fake:,} fakes "
            f"and the {available:,} real training images), got {reference_n!r}. Pass a smaller one or None."
        )
    return int(reference_n)
