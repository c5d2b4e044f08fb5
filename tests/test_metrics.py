"""The judge classifier and the metrics built on it.

One judge is trained for the whole module (about 30 s on a laptop CPU), into a temporary
output folder so that nothing is written into the repository.
"""

import time

import numpy as np
import pytest

from gan_utils import callbacks, data, metrics, models, plotting, training

# FID strengths chosen so that the order below holds with a wide margin (measured with the
# offline sample's judge, 500 images against 1,000 training images): real ~5, noise ~14,
# blur ~40, digits 0-4 ~80, a single digit ~230.
NOISE_STD = 0.1
BLUR_SIGMA = 0.8


@pytest.fixture(scope="module")
def judge(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GAN_UTILS_OUTPUT", str(tmp_path_factory.mktemp("outputs")))
        yield metrics.load_judge(seed=0, verbose=True)


@pytest.fixture(scope="module")
def test_digits():
    return data.load_mnist(split="test", value_range="sigmoid", verbose=False)


def _exact_gaussian_sample(mean, variances, n=400, seed=0):
    """Samples whose sample mean and covariance are exactly ``mean`` and ``diag(variances)``."""
    x = np.random.default_rng(seed).normal(size=(n, len(mean)))
    x -= x.mean(axis=0)
    values, vectors = np.linalg.eigh(np.cov(x, rowvar=False))
    white = x @ vectors / np.sqrt(values) @ vectors.T  # sample covariance now exactly I
    return white * np.sqrt(variances) + mean


def _blur(images, sigma):
    radius = int(3 * sigma) + 1
    kernel = np.exp(-np.arange(-radius, radius + 1) ** 2 / (2 * sigma**2))
    kernel /= kernel.sum()
    out = images[..., 0]
    for axis in (1, 2):
        out = np.apply_along_axis(np.convolve, axis, out, kernel, mode="same")
    return out[..., None]


# fid_from_features and mode_coverage are pure NumPy: no judge needed.

def test_fid_identical_statistics_is_zero():
    f = np.random.default_rng(0).normal(size=(500, 6))
    assert metrics.fid_from_features(f, f) == pytest.approx(0.0, abs=1e-9)
    same_law = np.random.default_rng(1).normal(size=(500, 6))
    assert metrics.fid_from_features(f, same_law) < 0.2


def test_fid_matches_closed_form_for_diagonal_gaussians():
    mu1, s1 = np.array([0.0, 1.0, -2.0, 0.5]), np.array([1.0, 4.0, 0.25, 2.0])
    mu2, s2 = np.array([1.0, 1.0, 0.0, 0.0]), np.array([9.0, 1.0, 0.25, 0.5])
    f1, f2 = _exact_gaussian_sample(mu1, s1, seed=0), _exact_gaussian_sample(mu2, s2, seed=1)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(s1 + s2 - 2 * np.sqrt(s1 * s2))
    assert expected == pytest.approx(5.25 + 5.5)  # the trace term matters: 5.5 of it
    assert metrics.fid_from_features(f1, f2) == pytest.approx(expected, rel=1e-9)


def test_fid_agrees_with_scipy_sqrtm_on_full_covariances():
    linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(2)
    f1 = rng.normal(size=(300, 5)) @ rng.normal(size=(5, 5))
    f2 = rng.normal(size=(300, 5)) @ rng.normal(size=(5, 5)) + 1.0
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    expected = np.sum((f1.mean(0) - f2.mean(0)) ** 2) + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)
    assert metrics.fid_from_features(f1, f2) == pytest.approx(expected, rel=1e-8)


def test_fid_is_finite_with_dead_units_and_few_samples():
    rng = np.random.default_rng(3)
    f1 = np.maximum(rng.normal(size=(20, 64)), 0.0)
    f2 = np.maximum(rng.normal(size=(20, 64)) + 0.5, 0.0)
    f1[:, :16] = 0.0  # dead ReLU units: constant columns, singular covariance
    f2[:, 8:24] = 1.0
    fid = metrics.fid_from_features(f1, f2)
    assert np.isfinite(fid) and fid > 0
    assert metrics.fid_from_features(f1, f1) == pytest.approx(0.0, abs=1e-8)
    assert metrics.fid_from_features(f2, f1) == pytest.approx(fid, rel=1e-7)  # symmetric


def test_fid_input_errors():
    with pytest.raises(ValueError, match="features1 has 3 features per row and features2 4"):
        metrics.fid_from_features(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match=r"features2 must be a 2-D array \(N, F\) with N >= 2"):
        metrics.fid_from_features(np.zeros((5, 3)), np.zeros(3))


def test_mode_coverage_is_normalised_entropy():
    assert metrics.mode_coverage(np.full(10, 7)) == pytest.approx(1.0)
    assert metrics.mode_coverage(np.eye(10)[4] * 100) == 0.0
    assert metrics.mode_coverage([5, 5, 5, 5, 5, 0, 0, 0, 0, 0]) == pytest.approx(np.log(5) / np.log(10))
    with pytest.raises(ValueError, match="histogram must be 10 non-negative counts"):
        metrics.mode_coverage([1, 2, 3])
    with pytest.raises(ValueError, match="positive sum"):
        metrics.mode_coverage(np.zeros(10))


def test_judge_is_accurate_and_describes_its_data(judge, capsys):
    full_mnist = len(data.load_raw_mnist().x_train) >= 60_000
    assert judge.test_accuracy >= (0.985 if full_mnist else 0.95)
    assert judge.source == data.load_raw_mnist().description
    assert judge.path.suffix == ".keras" and judge.path.with_suffix(".json").is_file()


def test_judge_outputs_shapes_and_ranges(judge, test_digits):
    images = test_digits[0][:7]
    probs = judge.predict_proba(images)
    assert probs.shape == (7, 10) and probs.dtype == np.float64
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    predicted = judge.predict(images[..., 0])  # (N, 28, 28) works too
    assert predicted.dtype == np.int64 and np.array_equal(predicted, probs.argmax(axis=1))
    features = judge.features(images * 2 - 1, value_range="tanh")
    assert features.shape == (7, 128) and features.dtype == np.float64 and features.min() >= 0
    np.testing.assert_allclose(features, judge.features(images), atol=1e-5)


def test_second_load_comes_from_cache(judge, test_digits, capsys):
    assert metrics.load_judge(verbose=False) is judge  # same process: no reload
    metrics._JUDGES.clear()  # forget it, so that the file on disk is read
    start = time.perf_counter()
    again = metrics.load_judge()
    assert time.perf_counter() - start < 10
    assert "Judge loaded from" in capsys.readouterr().out
    assert again.test_accuracy == judge.test_accuracy
    np.testing.assert_allclose(again.predict_proba(test_digits[0][:50]), judge.predict_proba(test_digits[0][:50]))


def test_fid_grows_with_each_defect(judge, test_digits):
    images, labels = test_digits
    rng = np.random.default_rng(0)
    train, _ = data.load_mnist(split="train", value_range="sigmoid", verbose=False)
    reference = judge.features(train[rng.choice(len(train), 1000, replace=False)])
    real = images[rng.choice(len(images), 500, replace=False)]
    single = np.resize(images[labels == 7], (500, 28, 28, 1))
    low_digits = images[labels < 5][:500]
    cases = {
        "real": real,
        "noise": np.clip(real + rng.normal(0, NOISE_STD, real.shape), 0, 1),
        "blur": _blur(real, BLUR_SIGMA),
        "digits 0-4": low_digits,
        "single digit": single,
    }
    fids = {name: metrics.fid_from_features(judge.features(x), reference) for name, x in cases.items()}
    print({name: round(fid, 1) for name, fid in fids.items()})
    values = list(fids.values())
    assert fids["real"] < 15
    assert fids["noise"] > 2 * fids["real"]
    assert all(later > 1.3 * earlier for earlier, later in zip(values[1:], values[2:])), fids
    assert metrics.classifier_fid(judge, real, single) > metrics.classifier_fid(judge, real, low_digits)


def test_coverage_score_and_label_accuracy(judge, test_digits):
    images, labels = test_digits
    single = images[labels == 7]
    assert metrics.mode_coverage(metrics.class_histogram(judge, images)) > 0.95
    assert metrics.mode_coverage(metrics.class_histogram(judge, single)) < 0.3
    assert metrics.classifier_score(judge, images) > 8
    assert metrics.classifier_score(judge, single) < 2
    true = metrics.label_accuracy(judge, images, labels)
    assert true["overall"] == pytest.approx(judge.test_accuracy, abs=0.01)
    shuffled = metrics.label_accuracy(judge, images, np.random.default_rng(0).permutation(labels))
    assert 0.03 < shuffled["overall"] < 0.2
    threes = metrics.label_accuracy(judge, images[labels == 3], labels[labels == 3])
    assert threes["per_digit"].shape == (10,) and threes["per_digit"][3] > 0.9
    assert np.isnan(np.delete(threes["per_digit"], 3)).all()


def test_real_reference_and_evaluate(judge, test_digits):
    images, labels = test_digits
    reference = metrics.real_reference(judge, 300)
    assert set(reference) >= {"fid", "accuracy", "coverage", "score"}
    assert reference["accuracy"] == pytest.approx(judge.test_accuracy, abs=1e-9)
    assert reference["fid"] < 20 and reference["coverage"] > 0.95 and reference["score"] > 8
    pick = np.random.default_rng(0).choice(len(images), 300, replace=False)
    result = metrics.evaluate(judge, images[pick] * 2 - 1, labels=labels[pick], value_range="tanh")
    assert result["n"] == 300 and result["digits"] is None or result["digits"] == list(range(10))
    assert result["fid_real_reference"] == reference["fid"]
    assert result["fid"] < 2 * reference["fid"] and result["histogram"].sum() == 300
    assert result["label_accuracy"] > 0.9 and result["per_digit_accuracy"].shape == (10,)
    low = metrics.evaluate(judge, images[labels < 3], labels=labels[labels < 3])
    assert low["digits"] == [0, 1, 2]  # taken from the labels, for the reference too
    assert low["accuracy_real_reference"] > 0.9
    train_sevens, _ = data.load_mnist(digits=7, value_range="sigmoid", verbose=False)
    sevens = metrics.evaluate(judge, train_sevens, digits=7)
    assert sevens["digits"] == [7] and sevens["coverage_real_reference"] < 0.3
    assert sevens["fid"] == pytest.approx(sevens["fid_real_reference"], rel=1e-6)  # the same training sevens
    one_seven = metrics.evaluate(judge, np.repeat(images[labels == 7][:1], 100, axis=0), digits=7)
    assert one_seven["fid"] > 5 * one_seven["fid_real_reference"]  # no variety within the digit


def test_input_errors(judge, test_digits):
    images, labels = test_digits[0][:4], test_digits[1][:4]
    with pytest.raises(ValueError, match=r"shape \(N, 28, 28, 1\) or \(N, 28, 28\), got shape \(4, 28, 28, 3\)"):
        judge.predict(np.zeros((4, 28, 28, 3)))
    with pytest.raises(ValueError, match=r"got shape \(28, 28\)"):
        judge.predict(np.zeros((28, 28)))
    with pytest.raises(ValueError, match="value_range must be one of"):
        judge.predict(images, value_range="unit")
    with pytest.raises(ValueError, match="value_range='sigmoid' means"):
        judge.predict(images * 2 - 1)
    with pytest.raises(ValueError, match="NaN or inf"):
        judge.predict(np.full((2, 28, 28, 1), np.nan))
    with pytest.raises(ValueError, match=r"labels must have shape \(4,\)"):
        metrics.label_accuracy(judge, images, labels[:3])
    with pytest.raises(ValueError, match=r"labels must be in 0..9, got \[-1, 12\]"):
        metrics.label_accuracy(judge, images, [1, 12, -1, 3])
    with pytest.raises(ValueError, match="one-hot"):
        metrics.evaluate(judge, images, labels=np.eye(10)[labels])
    with pytest.raises(ValueError, match="integer digits"):
        metrics.label_accuracy(judge, images, [0.5, 1, 2, 3])
    with pytest.raises(ValueError, match="n must be an integer from 2 to"):
        metrics.real_reference(judge, 10**7)
    with pytest.raises(ValueError, match="digits must be in 0..9"):
        metrics.real_reference(judge, 10, digits=[12])
    with pytest.raises(ValueError, match="reference_n must be an integer from 2 to 4"):
        metrics.evaluate(judge, images, reference_n=50)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        metrics.load_judge(seed=-1)


def test_fid_tracker_measures_the_sampler_across_fit_calls(judge):
    twos, _ = data.load_mnist(digits=2, value_range="sigmoid", verbose=False)
    gan = training.GAN(models.mlp_generator(), models.mlp_discriminator(), seed=0)
    gan.compile()
    tracker = callbacks.FIDTracker(judge, n=200, every=2, digits=2, value_range="sigmoid")
    dataset = data.as_dataset(twos, batch_size=50).repeat()
    gan.fit(dataset, epochs=4, steps_per_epoch=5, verbose=0, callbacks=[tracker])
    gan.fit(dataset, epochs=2, steps_per_epoch=5, verbose=0, callbacks=[tracker])  # a second call carries on
    assert tracker.history["steps"] == [10, 20, 30]
    assert 0 < tracker.history["seconds"][0] < tracker.history["seconds"][1] < tracker.history["seconds"][2]
    now = metrics.evaluate(judge, gan.sample(200, seed=1), digits=2)["fid"]
    assert tracker.history["fid"][-1] == pytest.approx(now, rel=1e-6)  # the same samples, the same FID
    assert tracker.history["fid"][0] != tracker.history["fid"][-1]
    fig = plotting.compare_curves({"mlp": tracker}, "fid", x="seconds", xlabel="training seconds")
    assert np.allclose(fig.axes[0].lines[0].get_xdata(), tracker.history["seconds"])
    with pytest.raises(ValueError, match="every must be a positive integer"):
        callbacks.FIDTracker(judge, every=0)
