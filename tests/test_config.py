import pytest

from gan_utils import config


@pytest.mark.parametrize("raw", ["1", "true", "YES", " on ", "True"])
def test_truthy_values_turn_quick_mode_on(monkeypatch, raw):
    monkeypatch.setenv(config.QUICK_ENV, raw)
    assert config.quick_mode() is True
    assert config.pick(full=20_000, quick=50) == 50


@pytest.mark.parametrize("raw", ["0", "false", "No", "off", ""])
def test_falsy_values_turn_quick_mode_off(monkeypatch, raw):
    monkeypatch.setenv(config.QUICK_ENV, raw)
    assert config.quick_mode() is False
    assert config.pick(full=20_000, quick=50) == 20_000


def test_unset_means_full_size(monkeypatch):
    monkeypatch.delenv(config.QUICK_ENV, raising=False)
    assert config.pick(full=3, quick=1) == 3


@pytest.mark.parametrize("raw", ["2", "maybe", "y", "quick", "1.0"])
def test_anything_else_is_an_error_naming_the_variable_and_fix(monkeypatch, raw):
    monkeypatch.setenv(config.QUICK_ENV, raw)
    with pytest.raises(ValueError) as info:
        config.quick_mode()
    message = str(info.value)
    assert config.QUICK_ENV in message and repr(raw) in message and "1/true/yes/on" in message


def test_set_seed_makes_numpy_and_keras_repeat():
    import keras
    import numpy as np

    config.set_seed(7)
    first = (np.random.rand(3), keras.random.normal((3,)).numpy())
    config.set_seed(7)
    second = (np.random.rand(3), keras.random.normal((3,)).numpy())
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


@pytest.mark.parametrize("bad", [-1, 1.5, "42", True])
def test_set_seed_rejects_non_integers(bad):
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        config.set_seed(bad)


def test_output_dir_honours_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(config.OUTPUT_ENV, str(tmp_path / "out"))
    path = config.output_dir("nb1", "frames")
    assert path == tmp_path / "out" / "nb1" / "frames" and path.is_dir()
