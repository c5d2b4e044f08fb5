"""The trained generators that ship with the series: they load, match their records, and still score as recorded."""

import json
import shutil

import numpy as np
import pytest

from gan_utils import data, metrics, pretrained, recipes

NAMES = pretrained.names()
IMAGE_NAMES = [name for name in NAMES if recipes.recipe(name).kind == "images"]
MAX_BYTES = 20 * 2**20  # what the package may carry in all


def test_the_series_ships_its_generators():
    expected = {"mlp_twos", "dcgan", "cgan", "ring_plain", "ring_hinge", "ring_r1", "ring_wgan_gp", "ring_sn_hinge",
                "ring_ttur"}
    assert expected <= set(NAMES), sorted(expected - set(NAMES))
    assert set(NAMES) <= set(recipes.RECIPES), "every shipped generator has its recipe"


def test_they_fit_in_20_mb():
    total = sum(path.stat().st_size for path in pretrained.FOLDER.iterdir())
    assert total <= MAX_BYTES, f"{total / 2**20:.1f} MB"


def test_the_package_data_includes_them():
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    assert {"trained/*.npz", "trained/*.json"} <= set(project["tool"]["setuptools"]["package-data"]["gan_utils"])


@pytest.mark.parametrize("name", NAMES)
def test_each_loads_with_its_checksum_and_samples_in_its_range(name):
    loaded = pretrained.load(name)
    info = loaded.record
    assert pretrained.checksum(pretrained.FOLDER / info["weights"]["file"]) == info["weights"]["sha256"]
    assert info["name"] == name and info["steps"] > 0 and info["train_seconds"] > 0
    assert info["machine_reference"]["steps_per_second"] > 0 and info["tensorflow"] and info["keras"]
    assert loaded.generator.count_params() == info["weights"]["count"]
    labels = np.arange(8) % 10 if loaded.conditional else None
    samples = loaded.sample(8, labels=labels, seed=0)
    np.testing.assert_array_equal(samples, loaded.sample(8, labels=labels, seed=0))  # reproducible
    if recipes.recipe(name).kind == "images":
        assert samples.shape == (8, 28, 28, 1)
        low, high = data.value_range_bounds(loaded.value_range)
        assert low <= samples.min() and samples.max() <= high
        assert len({samples[i].tobytes() for i in range(8)}) == 8  # eight different images
    else:
        assert samples.shape == (8, 2) and np.isfinite(samples).all()


@pytest.fixture(scope="module")
def judge():
    return metrics.load_judge()


def _data_key():
    return "sample" if data.load_raw_mnist().source == "sample" else "full"


@pytest.mark.parametrize("name", IMAGE_NAMES)
def test_figures_at_a_ci_sized_sample_agree_with_the_record(name, judge):
    """The shipped weights still draw what was measured when they were saved (a broken load would not)."""
    loaded = pretrained.load(name)
    recorded = loaded.record["check"].get(_data_key())
    if recorded is None:
        pytest.skip(f"{name}'s record has no check figures for {_data_key()} MNIST")
    recipe = recipes.recipe(name)
    samples = recorded["samples"]  # drawn from noise seed 1, as tools/train_generators.py draws them
    labels = np.arange(samples) % 10 if loaded.conditional else None
    result = metrics.evaluate(judge, loaded.sample(samples, labels=labels, seed=1), value_range=loaded.value_range,
                              labels=labels, digits=recipe.digits)
    assert result["n"] == recorded["n"]
    # The judge is retrained per machine and version, so its figures move a little; a broken generator moves them a lot.
    assert result["fid"] == pytest.approx(recorded["fid"], rel=0.15, abs=0.3), (result["fid"], recorded)
    for key in ("precision", "recall"):
        assert result[key] == pytest.approx(recorded[key], abs=0.04), (key, result[key], recorded)
    if "label_accuracy" in recorded:
        assert result["label_accuracy"] == pytest.approx(recorded["label_accuracy"], abs=0.01)


@pytest.mark.parametrize("name", [n for n in NAMES if n.startswith("ring_")])
def test_ring_figures_agree_with_the_record(name):
    loaded = pretrained.load(name)
    points = loaded.sample(2_000, seed=1)
    from gan_utils import toy2d

    report = toy2d.mode_report(points, recipes.RING)
    assert report.modes_covered == loaded.record["figures"]["modes_covered"]
    assert report.high_quality == pytest.approx(loaded.record["figures"]["high_quality"], abs=0.01)


@pytest.fixture
def copy_of_the_folder(tmp_path, monkeypatch):
    folder = tmp_path / "trained"
    shutil.copytree(pretrained.FOLDER, folder)
    monkeypatch.setattr(pretrained, "FOLDER", folder)
    return folder


def test_a_missing_generator_is_a_clear_error(copy_of_the_folder):
    with pytest.raises(FileNotFoundError, match=r"No trained generator named 'nope'.*shipped: .*Reinstall gan_utils"):
        pretrained.load("nope")
    (copy_of_the_folder / "ring_plain.npz").unlink()
    with pytest.raises(FileNotFoundError, match=r"weights of 'ring_plain' are missing.*ring_plain.npz.*train_generators"):
        pretrained.load("ring_plain")


def test_a_damaged_file_is_a_clear_error(copy_of_the_folder):
    path = copy_of_the_folder / "ring_plain.npz"
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ValueError, match=r"ring_plain.npz is damaged.*SHA-256.*Reinstall gan_utils"):
        pretrained.load("ring_plain")
    (copy_of_the_folder / "ring_hinge.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"ring_hinge.json is damaged"):
        pretrained.load("ring_hinge")


def test_weights_of_another_architecture_are_a_clear_error(copy_of_the_folder):
    info = json.loads((copy_of_the_folder / "ring_plain.json").read_text())
    info["generator"]["kwargs"] = {"hidden": 64}  # a narrower network than the one saved
    (copy_of_the_folder / "ring_plain.json").write_text(json.dumps(info))
    with pytest.raises(ValueError, match=r"do not fit the recorded architecture"):
        pretrained.load("ring_plain")
