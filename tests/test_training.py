"""The training engine: that it trains, reproduces, saves, resumes and explains mistakes."""

import json
import logging
import math
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from helpers import mlp_gan

from gan_utils import data, models, training

ROOT = Path(__file__).resolve().parents[1]




def _small_gan(seed=0, cls=training.GAN, **kwargs):
    """The MLP GAN with 32 hidden units: for tests of the engine's bookkeeping, not of learning."""
    keras.utils.set_random_seed(seed)
    gan = cls(models.mlp_generator(hidden=32), models.mlp_discriminator(hidden=32), seed=seed, **kwargs)
    gan.compile()
    return gan


def _d_means(gan, real, z):
    d_real = float(ops.mean(ops.sigmoid(gan.discriminator(real))))
    d_fake = float(ops.mean(ops.sigmoid(gan.discriminator(gan.generator(z)))))
    return d_real, d_fake


def test_a_few_steps_move_d_real_up_and_d_fake_down(twos):
    gan = mlp_gan()
    real, z = twos[:200], gan.noise(200, seed=5)
    before = _d_means(gan, real, z)
    gan.fit(data.as_dataset(twos, batch_size=100).repeat(), epochs=1, steps_per_epoch=30, verbose=0)
    after = _d_means(gan, real, z)
    assert after[0] > before[0] + 0.1, (before, after)
    assert after[1] < before[1] - 0.1, (before, after)


def test_discriminator_weights_change_unlike_the_combined_model_trick(twos):
    gan = mlp_gan()
    d_before = [w.copy() for w in gan.discriminator.get_weights()]
    g_before = [w.copy() for w in gan.generator.get_weights()]
    gan.fit(data.as_dataset(twos, batch_size=100), epochs=1, steps_per_epoch=2, verbose=0)
    assert all(not np.allclose(a, b) for a, b in zip(d_before, gan.discriminator.get_weights()))
    assert all(not np.allclose(a, b) for a, b in zip(g_before, gan.generator.get_weights()))


def test_simultaneous_update_gives_d_the_same_step_but_g_judged_by_the_old_d(twos):
    """Alternating and simultaneous take the same D step; only G's verdict comes from a different D."""
    def one_step(update):
        gan = mlp_gan(update=update)
        gan.compile(steps_per_execution=1)
        gan.fit(data.as_dataset(twos, batch_size=50, shuffle=False), epochs=1, steps_per_epoch=1, verbose=0)
        return gan.discriminator.get_weights(), gan.generator.get_weights()

    d_alt, g_alt = one_step("alternating")
    d_sim, g_sim = one_step("simultaneous")
    for a, b in zip(d_alt, d_sim):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert any(not np.allclose(a, b, rtol=1e-5, atol=1e-7) for a, b in zip(g_alt, g_sim))


def test_simultaneous_update_trains(twos):
    gan = mlp_gan(update="simultaneous")
    real, z = twos[:200], gan.noise(200, seed=5)
    before = _d_means(gan, real, z)
    gan.fit(data.as_dataset(twos, batch_size=100).repeat(), epochs=1, steps_per_epoch=30, verbose=0)
    after = _d_means(gan, real, z)
    assert after[0] > before[0] + 0.1 and after[1] < before[1] - 0.1, (before, after)


def test_loss_values_at_equilibrium_and_confident_d():
    zero = ops.zeros((8, 1))
    assert math.isclose(float(training.discriminator_loss(zero, zero)), math.log(2), rel_tol=1e-6)
    assert math.isclose(float(training.generator_loss(zero)), math.log(2), rel_tol=1e-6)
    assert math.isclose(float(training.generator_loss(zero, "minimax")), -math.log(2), rel_tol=1e-6)
    smoothed = float(training.discriminator_loss(ops.full((8, 1), 10.0), ops.full((8, 1), -10.0), 0.9))
    assert smoothed > 0.4  # with targets at 0.9 an over-confident D is penalised


def test_minimax_gradient_vanishes_when_d_rejects_fakes():
    import tensorflow as tf

    logits = tf.Variable(tf.fill((16, 1), -6.0))  # D(G(z)) = sigmoid(-6), about 0.0025
    grads = {}
    for kind in training.G_LOSSES:
        with tf.GradientTape() as tape:
            loss = training.generator_loss(logits, kind)
        grads[kind] = float(tf.norm(tape.gradient(loss, logits)))
    assert grads["minimax"] < grads["non_saturating"] / 100, grads


def test_minimax_gives_g_a_smaller_gradient_early_in_real_training(twos):
    norms = {}
    for kind in training.G_LOSSES:
        gan = mlp_gan(g_loss=kind, track_grad_norm=True)
        history = gan.fit(data.as_dataset(twos, batch_size=100).repeat(), epochs=1, steps_per_epoch=40, verbose=0)
        norms[kind] = history.history["g_grad_norm"][-1]
    assert norms["minimax"] < norms["non_saturating"] / 3, norms


def test_same_seed_gives_identical_losses(twos):
    runs = []
    for _ in range(2):
        gan = mlp_gan(seed=3)
        history = gan.fit(data.as_dataset(twos, batch_size=100, seed=3), epochs=2, steps_per_epoch=4, verbose=0)
        runs.append(history.history)
    assert runs[0] == runs[1]


def test_ema_follows_its_warm_up_formula_step_by_step(twos):
    """After t generator steps: ema = d ema + (1 - d) G, with d = min(ema_decay, (1 + t) / (10 + t))."""
    decay = 0.2  # below (1 + t) / (10 + t) from t = 2 on, so that both sides of the min are used
    gan = _small_gan(ema_decay=decay)
    gan.compile(g_optimizer=keras.optimizers.Adam(1e-2), steps_per_execution=1)  # big steps: easy to tell apart
    expected = [w.copy() for w in gan.generator.get_weights()]  # the average starts as a copy of G
    for a, b in zip(gan.ema_generator.get_weights(), expected):
        np.testing.assert_array_equal(a, b)
    used = []

    def follow(batch, logs):
        t = int(gan.g_optimizer.iterations.numpy())
        d = min(decay, (1 + t) / (10 + t))
        used.append(d)
        for i, current in enumerate(gan.generator.get_weights()):
            expected[i] = d * expected[i] + (1 - d) * current

    gan.fit(data.as_dataset(twos, batch_size=50), epochs=1, steps_per_epoch=3, verbose=0,
            callbacks=[keras.callbacks.LambdaCallback(on_train_batch_end=follow)])
    assert used == [2 / 11, decay, decay]
    for average, want, current in zip(gan.ema_generator.get_weights(), expected, gan.generator.get_weights()):
        assert np.abs(average - current).max() > 1e-3  # the average really lags behind G
        np.testing.assert_allclose(average, want, rtol=1e-5, atol=1e-7)


def test_d_steps_gives_d_that_many_steps_each_on_fresh_fakes(twos):
    fakes = []

    class Watched(training.GAN):
        def _discriminator_step(self, images, labels, fake, share):
            fakes.append(np.asarray(fake))
            return super()._discriminator_step(images, labels, fake, share)

    gan = _small_gan(d_steps=3, cls=Watched)
    gan.compile(run_eagerly=True, steps_per_execution=1)  # eager, so that the fakes can be looked at
    gan.fit(data.as_dataset(twos, batch_size=16), epochs=1, steps_per_epoch=2, verbose=0)
    assert int(gan.d_optimizer.iterations.numpy()) == 6 and int(gan.g_optimizer.iterations.numpy()) == 2
    assert len(fakes) == 6
    for step in (fakes[:3], fakes[3:]):  # within one G step G is fixed, so new fakes mean new noise
        assert all(not np.allclose(a, b) for i, a in enumerate(step) for b in step[i + 1:])


def test_fit_takes_numpy_arrays(twos):
    gan = _small_gan()
    before = [w.copy() for w in gan.discriminator.get_weights()]
    history = gan.fit(twos[:64], batch_size=16, epochs=1, verbose=0)
    assert int(gan.d_optimizer.iterations.numpy()) == 4  # 64 images in batches of 16
    assert np.isfinite(history.history["d_loss"][-1])
    assert all(not np.allclose(a, b) for a, b in zip(before, gan.discriminator.get_weights()))

    keras.utils.set_random_seed(0)
    conditional = training.GAN(models.conditional_mlp_generator(hidden=32),
                               models.conditional_mlp_discriminator(hidden=32), mismatched_pairs=True)
    conditional.compile()
    history = conditional.fit(twos[:64], np.arange(64) % 10, batch_size=16, epochs=1, verbose=0)
    assert int(conditional.d_optimizer.iterations.numpy()) == 4 and np.isfinite(history.history["d_loss"][-1])


def test_calling_the_gan_gives_the_images_sample_gives(twos):
    """gan(z), gan.predict(z), sample() and the saved generator: one network, the moving average."""
    gan = _small_gan(ema_decay=0.9)
    gan.compile(g_optimizer=keras.optimizers.Adam(1e-2))
    gan.fit(data.as_dataset(twos, batch_size=50), epochs=1, steps_per_epoch=3, verbose=0)
    z = gan.noise(8, seed=2)
    sampled = gan.sample(z=z)
    assert np.abs(sampled - gan.generator.predict(z, verbose=0)).max() > 1e-2  # EMA and G differ here
    np.testing.assert_allclose(np.asarray(gan(z)), sampled, atol=1e-6)
    np.testing.assert_allclose(gan.predict(z, verbose=0), sampled, atol=1e-6)


def test_run_in_batches_matches_predict_and_traces_nothing():
    """The eager batched call gives predict's outputs (both of a two-output model), any batch size."""
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(3)(inputs)
    two_outputs = keras.Model(inputs, [hidden, keras.layers.Dense(2)(hidden)])
    x = np.random.default_rng(0).standard_normal((23, 4)).astype(np.float32)
    expected = two_outputs.predict(x, batch_size=7, verbose=0)
    for batch_size in (1, 5, 23, 100):
        got = models.run_in_batches(two_outputs, x, batch_size)
        assert [g.shape for g in got] == [(23, 3), (23, 2)] and all(g.dtype == np.float32 for g in got)
        for g, e in zip(got, expected):
            np.testing.assert_allclose(g, e, atol=1e-6)
    warnings = []
    handler = logging.Handler()
    handler.emit = lambda record: warnings.append(record.getMessage())
    logging.getLogger("tensorflow").addHandler(handler)  # where TensorFlow's retracing warning goes
    try:
        gans = [_small_gan() for _ in range(2)]
        for n in (16, 32, 1000, 7, 9, 11, 13, 1234):  # predict() here warned of tf.function retracing
            for gan in gans:
                gan.sample(n, seed=1)
    finally:
        logging.getLogger("tensorflow").removeHandler(handler)
    assert not [w for w in warnings if "retracing" in w], warnings
    with pytest.raises(ValueError, match="same length"):
        models.run_in_batches(two_outputs, [x, x[:3]])
    with pytest.raises(ValueError, match="empty"):
        models.run_in_batches(two_outputs, x[:0])


def test_saved_generator_reloads_and_samples_identically(tmp_path, twos):
    gan = mlp_gan(ema_decay=0.9)
    gan.fit(data.as_dataset(twos, batch_size=100), epochs=1, steps_per_epoch=3, verbose=0)
    path = gan.save_generator(tmp_path / "g.keras")
    reloaded = keras.models.load_model(path)
    z = gan.noise(16, seed=9)
    np.testing.assert_allclose(reloaded.predict(z, verbose=0), gan.sample(z=z), atol=1e-6)
    with pytest.raises(ValueError, match=r"\.keras file"):
        gan.save_generator(tmp_path / "g.h5")


def test_conditional_generator_reloads_and_draws_requested_labels(tmp_path):
    keras.utils.set_random_seed(0)
    gan = training.GAN(models.conditional_mlp_generator(), models.conditional_mlp_discriminator())
    assert gan.conditional and gan.num_classes == 10
    path = gan.save_generator(tmp_path / "cg.keras")
    reloaded = keras.models.load_model(path)
    z, labels = gan.noise(10, seed=1), np.arange(10)
    np.testing.assert_allclose(reloaded.predict([z, labels], verbose=0), gan.sample(z=z, labels=labels), atol=1e-6)
    assert gan.sample(labels=4, n=3).shape == (3, 28, 28, 1)


def test_mismatched_pairs_teach_d_to_check_the_label():
    """With real images under wrong labels as negatives, D learns to prefer the true label."""
    images, labels = data.load_mnist(value_range="sigmoid", verbose=False)
    wrong = (labels + 1 + np.arange(len(labels)) % 9) % 10
    gaps = {}
    for mismatched in (False, True):
        keras.utils.set_random_seed(0)
        # The embedding scheme's D sees the label as a whole image plane, so 150 steps show the effect;
        # Lee's one-hot D, which reads it as 10 of 794 inputs, needs about four times as many.
        gan = training.GAN(models.conditional_mlp_generator(),
                           models.conditional_mlp_discriminator(label_scheme="embedding"),
                           mismatched_pairs=mismatched, seed=0)
        gan.compile()
        history = gan.fit(data.as_dataset(images, labels, batch_size=64).repeat(), epochs=1,
                          steps_per_epoch=150, verbose=0)
        assert np.isfinite(history.history["d_loss"][-1])
        d_true = ops.sigmoid(gan.discriminator([images[:1000], labels[:1000]]))
        d_wrong = ops.sigmoid(gan.discriminator([images[:1000], wrong[:1000]]))
        gaps[mismatched] = float(ops.mean(d_true) - ops.mean(d_wrong))
    assert gaps[True] > 0.2, gaps
    assert gaps[True] > gaps[False] + 0.1, gaps


def test_nan_loss_stops_training_with_a_clear_message(twos, capsys):
    keras.utils.set_random_seed(0)
    gan = training.GAN(models.mlp_generator(), models.mlp_discriminator())
    gan.compile(d_optimizer=keras.optimizers.SGD(1e30), g_optimizer=keras.optimizers.SGD(1e30))  # diverges
    history = gan.fit(data.as_dataset(twos, batch_size=100).repeat(), epochs=5, steps_per_epoch=4, verbose=0)
    assert len(history.history["d_loss"]) == 1  # stopped during the first epoch
    assert "NaN or infinite" in capsys.readouterr().err


def test_wrong_image_shape_is_a_clear_error(twos):
    gan = mlp_gan()
    flat = twos.reshape(len(twos), 784)
    with pytest.raises(ValueError, match=r"shape \(batch, 784\).*expects \(batch, 28, 28, 1\)"):
        gan.fit(data.as_dataset(flat, batch_size=50), epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"z must have shape \(n, 100\)"):
        gan.sample(z=np.zeros((3, 64)))


def test_labels_for_an_unconditional_gan_are_a_clear_error(twos):
    gan = mlp_gan()
    with pytest.raises(ValueError, match="unconditional"):
        gan.fit(data.as_dataset(twos, np.full(len(twos), 2), batch_size=50), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="unconditional"):
        gan.sample(4, labels=2)


def test_conditional_gan_label_errors():
    gan = training.GAN(models.conditional_mlp_generator(), models.conditional_mlp_discriminator())
    with pytest.raises(ValueError, match="needs labels"):
        gan.fit(data.as_dataset(np.zeros((8, 28, 28, 1), np.float32), batch_size=4), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="pass labels"):
        gan.sample(4)
    with pytest.raises(ValueError, match=r"labels must be in 0\.\.9, got \[12\]"):
        gan.sample(2, labels=[1, 12])


def test_mismatched_models_and_settings_are_clear_errors():
    with pytest.raises(ValueError, match="both take one"):
        training.GAN(models.mlp_generator(), models.conditional_mlp_discriminator())
    with pytest.raises(ValueError, match="g_loss must be one of"):
        training.GAN(models.mlp_generator(), models.mlp_discriminator(), g_loss="wasserstein")
    with pytest.raises(ValueError, match="d_steps"):
        training.GAN(models.mlp_generator(), models.mlp_discriminator(), d_steps=0)
    with pytest.raises(ValueError, match="mismatched_pairs needs a conditional GAN"):
        training.GAN(models.mlp_generator(), models.mlp_discriminator(), mismatched_pairs=True)
    with pytest.raises(ValueError, match="update must be one of"):
        training.GAN(models.mlp_generator(), models.mlp_discriminator(), update="together")


def test_dataset_structures_a_gan_cannot_use_are_clear_errors(twos):
    gan = mlp_gan()
    images = twos[:8]
    cases = {
        r"1-tuples \(images,\).*ds\.map\(lambda images: images\)": (images,),
        r"dicts \(keys \['image'\]\).*ds\.map": {"image": images},
        r"3-tuples.*no targets or sample weights": (images, np.zeros(8, np.int32), np.ones(8, np.float32)),
    }
    for message, elements in cases.items():
        with pytest.raises(ValueError, match=message):
            gan.fit(tf.data.Dataset.from_tensor_slices(elements).batch(4), epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"got a dict \(keys \['image'\]\) as x.*fit\(images, labels\)"):
        gan.fit({"image": images}, epochs=1, verbose=0)


# -- mixed precision -------------------------------------------------------------------------

@pytest.fixture
def dtype_policy():
    """Set Keras's global dtype policy in a test; the previous one (float32) comes back even if it fails."""
    previous = keras.mixed_precision.global_policy()
    yield keras.mixed_precision.set_global_policy
    keras.mixed_precision.set_global_policy(previous)


def _two_sgd_steps(twos):
    """A small GAN under the current policy after two SGD steps, and its weights' update as one vector."""
    gan = _small_gan()
    gan.compile(keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1), steps_per_execution=1)
    before = gan.generator.get_weights() + gan.discriminator.get_weights()
    gan.fit(data.as_dataset(twos[:32], batch_size=16, shuffle=False), epochs=1, verbose=0)
    after = gan.generator.get_weights() + gan.discriminator.get_weights()
    return gan, np.concatenate([(a - b).ravel() for a, b in zip(after, before)])


def _same_update(moved, reference, tolerance):
    ratio = np.linalg.norm(moved) / np.linalg.norm(reference)
    cosine = moved @ reference / (np.linalg.norm(moved) * np.linalg.norm(reference))
    assert abs(ratio - 1) < tolerance and cosine > 1 - tolerance, (ratio, cosine)


def test_mixed_float16_scales_the_losses_and_moves_the_weights_as_float32_does(twos, dtype_policy):
    dtype_policy("float32")
    _, reference = _two_sgd_steps(twos)
    dtype_policy("mixed_float16")
    gan, moved = _two_sgd_steps(twos)
    assert gan.generator.compute_dtype == gan.discriminator.compute_dtype == "float16"
    for optimizer in (gan.d_optimizer, gan.g_optimizer):
        assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
        assert int(optimizer.step_counter.numpy()) == 2  # both steps had finite gradients after scaling
        assert float(optimizer.dynamic_scale.numpy()) == 2.0 ** 15  # the losses were multiplied by this
    assert gan._d_logits(twos[:2], None).dtype == "float32"  # so the losses are float32
    # Scaled losses, unscaled gradients: the same step as in float32, up to float16 rounding.
    _same_update(moved, reference, tolerance=1e-2)


def test_mixed_bfloat16_trains_without_loss_scaling(twos, dtype_policy):
    dtype_policy("float32")
    _, reference = _two_sgd_steps(twos)
    dtype_policy("mixed_bfloat16")
    gan, moved = _two_sgd_steps(twos)
    assert gan.generator.compute_dtype == "bfloat16"
    assert not isinstance(gan.g_optimizer, keras.optimizers.LossScaleOptimizer)
    assert not isinstance(gan.d_optimizer, keras.optimizers.LossScaleOptimizer)
    _same_update(moved, reference, tolerance=2e-2)


# -- importing without TensorFlow, or with another Keras backend -----------------------------

_BLOCK_TENSORFLOW = """
import sys

class BlockTensorFlow:  # as if TensorFlow were not installed
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "tensorflow":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, BlockTensorFlow())
"""


def _import_training(env=None, before=""):
    """stderr's last line after ``import gan_utils.training`` in a fresh Python (which must fail)."""
    environ = {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "KERAS_HOME")}
    done = subprocess.run([sys.executable, "-c", before + "\nimport gan_utils.training"], cwd=ROOT,
                          env={**environ, **(env or {})}, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0, done.stdout
    return done.stderr.strip().splitlines()[-1]


def test_missing_tensorflow_is_an_import_error_saying_what_to_install():
    error = _import_training(before=_BLOCK_TENSORFLOW)
    assert error.startswith("ImportError: gan_utils trains with TensorFlow, which is not installed"), error
    assert 'pip install "gan_utils[tf]"' in error and "pip install tensorflow" in error


def test_another_keras_backend_is_an_import_error_saying_how_to_switch(tmp_path):
    error = _import_training(env={"KERAS_BACKEND": "jax"})
    assert error.startswith("ImportError: gan_utils trains with TensorFlow, but Keras is set to the 'jax' "
                            "backend (KERAS_BACKEND=jax)"), error
    assert "Unset KERAS_BACKEND, or set it to tensorflow before Keras is first imported" in error
    # The same backend chosen in keras.json: Keras itself fails first, as JAX is not installed here.
    (tmp_path / "keras.json").write_text(json.dumps({"backend": "jax"}))
    error = _import_training(env={"KERAS_HOME": str(tmp_path)})
    assert error.startswith("ImportError: gan_utils trains with TensorFlow, but Keras is set to "), error
    assert "'jax'" in error and "keras.json" in error


@pytest.mark.parametrize("builder_pair", [
    (models.bn_mlp_generator, models.bn_mlp_discriminator),
    (models.dcgan_generator, models.dcgan_discriminator),
])
def test_every_unconditional_architecture_trains_a_step(builder_pair):
    g, d = builder_pair
    gan = training.GAN(g(), d())
    gan.compile()
    images = np.random.default_rng(0).uniform(-1, 1, (16, 28, 28, 1)).astype(np.float32)
    history = gan.fit(data.as_dataset(images, batch_size=8), epochs=1, verbose=0)
    assert all(np.isfinite(v[-1]) for v in history.history.values())


@pytest.mark.parametrize("scheme", ["onehot", "embedding"])
def test_conditional_dcgan_trains_a_step_with_both_label_schemes(scheme):
    gan = training.GAN(models.conditional_dcgan_generator(label_scheme=scheme),
                       models.conditional_dcgan_discriminator(label_scheme=scheme), ema_decay=0.99)
    gan.compile()
    images = np.zeros((16, 28, 28, 1), np.float32)
    history = gan.fit(data.as_dataset(images, np.arange(16) % 10, batch_size=8), epochs=1, verbose=0)
    assert np.isfinite(history.history["g_loss"][-1])


def test_dcgan_generator_depth_options_shape_by_shape():
    def shapes(model):
        return [tuple(layer.output.shape[1:]) for layer in model.layers
                if isinstance(layer, (keras.layers.Dense, keras.layers.Conv2DTranspose))]

    assert shapes(models.dcgan_generator(size=8)) == [(256,), (7 * 7 * 32,), (7, 7, 32), (14, 14, 16), (28, 28, 1)]
    assert shapes(models.dcgan_generator(size=8, hidden=None, refine=False)) == [(7 * 7 * 32,), (14, 14, 16), (28, 28, 1)]
    plain = models.conditional_dcgan_generator(size=8)  # notebook 4's recipe: the plain body
    assert shapes(plain) == [(7 * 7 * 32,), (14, 14, 16), (28, 28, 1)]


def test_model_builders_reject_unknown_options():
    with pytest.raises(ValueError, match="size must be one of"):
        models.dcgan_generator(size="huge")
    with pytest.raises(ValueError, match="label_scheme must be one of"):
        models.conditional_mlp_generator(label_scheme="concat")


def test_soft_label_generator_matches_hard_labels_and_rejects_embeddings():
    generator = models.conditional_dcgan_generator()
    soft = models.soft_label_generator(generator)
    z = np.random.default_rng(0).standard_normal((3, 100)).astype(np.float32)
    hard = generator.predict([z, np.array([1, 4, 9])], verbose=0)
    blended = soft.predict([z, np.eye(10, dtype=np.float32)[[1, 4, 9]]], verbose=0)
    np.testing.assert_allclose(hard, blended, atol=1e-5)
    with pytest.raises(ValueError, match="label_scheme='onehot'"):
        models.soft_label_generator(models.conditional_dcgan_generator(label_scheme="embedding"))


def test_generator_still_saves_after_a_soft_label_view(tmp_path):
    generator = models.conditional_dcgan_generator()
    models.soft_label_generator(generator)
    generator.save(tmp_path / "g.keras")
    assert keras.models.load_model(tmp_path / "g.keras").output_shape == (None, 28, 28, 1)


def test_fit_takes_keras_arguments_in_keras_order(twos):
    """``gan.fit(x, y, 64)`` means batch_size=64, as in keras.Model.fit(x, y, batch_size, epochs, verbose, callbacks)."""
    gan = mlp_gan()
    seen = []
    record = keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: seen.append(epoch))
    history = gan.fit(twos[:128], None, 64, 2, 0, [record])
    assert seen == [0, 1] and len(history.history["d_loss"]) == 2
    assert int(gan.g_optimizer.iterations) == 4  # 128 images in batches of 64, twice


def test_tensorflow_starts_without_its_c_plus_plus_messages_on_standard_error():
    # Jupyter shows the process's standard error as a red block above the first output.
    # It returns None, so that a cell ending with it shows no result (the messages as a string).
    code = ("from gan_utils import backend\n"
            "result = backend.import_tensorflow_quietly()\n"
            "import keras, tensorflow as tf\n"
            "print(float(tf.constant(1.0) + 1), result is None, isinstance(backend.startup_messages, str))\n")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2.0 True True"
    assert "absl::InitializeLog" not in done.stderr and "cuda" not in done.stderr.lower(), done.stderr
