"""The training-step check: a correct step passes, and the usual mistakes make it fail, by name."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gan_utils import exercises, models


@pytest.fixture(scope="module")
def tiny():
    """A tiny MLP GAN (latent 8, 16 hidden units) and a batch of 16 images in [0, 1]."""
    keras.utils.set_random_seed(0)
    generator = models.mlp_generator(latent_dim=8, hidden=16)
    discriminator = models.mlp_discriminator(hidden=16)
    real = np.random.default_rng(1).uniform(0.0, 1.0, (16, 28, 28, 1)).astype(np.float32)
    return generator, discriminator, real


def _step(d_sign=1.0, g_sign=1.0, d_loss_reaches_g=False, g_loss_reaches_d=False, old_d=False, fresh_noise=False):
    """The notebook's solution, with one mistake switched on by each argument."""
    def step(generator, discriminator, g_optimizer, d_optimizer, real_images, z):
        if fresh_noise:
            z = tf.random.normal(z.shape)
        with tf.GradientTape() as g_tape:
            fake = generator(z, training=True)
            if old_d:
                g_logits = discriminator(fake, training=True)  # the verdict of D before its step
            with tf.GradientTape() as d_tape:
                if d_loss_reaches_g:  # D's tape records G's pass, and nothing stops the gradient
                    fake = generator(z, training=True)
                    fake_logits = discriminator(fake, training=True)
                else:
                    fake_logits = discriminator(tf.stop_gradient(fake), training=True)
                real_logits = discriminator(real_images, training=True)
                d_loss = d_sign * 0.5 * (tf.reduce_mean(tf.nn.softplus(-real_logits))
                                         + tf.reduce_mean(tf.nn.softplus(fake_logits)))
            d_vars = discriminator.trainable_variables + (generator.trainable_variables if d_loss_reaches_g else [])
            d_optimizer.apply_gradients(zip(d_tape.gradient(d_loss, d_vars), d_vars))
            if not old_d:
                g_logits = discriminator(fake, training=True)
            g_loss = g_sign * tf.reduce_mean(tf.nn.softplus(-g_logits))
        g_vars = generator.trainable_variables + (discriminator.trainable_variables if g_loss_reaches_d else [])
        g_optimizer.apply_gradients(zip(g_tape.gradient(g_loss, g_vars), g_vars))
        return d_loss, g_loss
    return step


def test_the_correct_step_passes_and_leaves_the_models_alone(tiny, capsys):
    generator, discriminator, real = tiny
    g_before, d_before = generator.get_weights(), discriminator.get_weights()
    differences = exercises.check_training_step(_step(), generator, discriminator, real)
    assert set(differences) == {"generator", "discriminator"}
    assert max(differences.values()) < 1e-6, differences
    assert "matches the engine's" in capsys.readouterr().out
    assert all(np.array_equal(a, b) for a, b in zip(g_before, generator.get_weights()))
    assert all(np.array_equal(a, b) for a, b in zip(d_before, discriminator.get_weights()))


def test_the_correct_step_passes_with_adam_and_a_given_noise(tiny):
    generator, discriminator, real = tiny
    z = np.random.default_rng(7).standard_normal((len(real), 8)).astype(np.float32)
    exercises.check_training_step(_step(), generator, discriminator, real, z=z, verbose=False,
                                  d_optimizer=keras.optimizers.Adam(1e-4), g_optimizer=keras.optimizers.Adam(2e-4))


@pytest.mark.parametrize("mistake, network, finding", [
    (dict(d_sign=-1.0), "discriminator", "its loss has the wrong sign"),
    (dict(g_sign=-1.0), "generator", "its loss has the wrong sign"),
    (dict(d_loss_reaches_g=True), "generator", "D's loss reached G"),
    (dict(g_loss_reaches_d=True), "discriminator", "G's loss reached D"),
    (dict(old_d=True), "generator", "judged by the D from before D's update"),
], ids=["d_loss_sign", "g_loss_sign", "missing_stop_gradient", "g_step_moves_d", "old_d_for_g"])
def test_each_usual_mistake_fails_and_is_named(tiny, mistake, network, finding):
    generator, discriminator, real = tiny
    with pytest.raises(AssertionError) as failure:
        exercises.check_training_step(_step(**mistake), generator, discriminator, real)
    message = str(failure.value)
    assert f"the {network}'s weights differ" in message, message
    assert finding in message, message


def test_fresh_noise_instead_of_the_given_z_fails(tiny):
    generator, discriminator, real = tiny
    with pytest.raises(AssertionError, match="weights differ"):
        exercises.check_training_step(_step(fresh_noise=True), generator, discriminator, real)


def test_a_scaffold_with_blanks_is_reported_not_run(tiny, capsys):
    def my_train_step(generator, discriminator, g_optimizer, d_optimizer, real_images, z):
        d_loss = ...
        g_loss = ...
        raise AssertionError("a step with blanks must not be run")

    generator, discriminator, real = tiny
    assert exercises.check_training_step(my_train_step, generator, discriminator, real) is None
    assert "my_train_step still has blanks (`...`) on lines 2, 3" in capsys.readouterr().out


def test_an_error_in_the_step_names_the_call(tiny):
    def broken(generator, discriminator, g_optimizer, d_optimizer, real_images, z):
        return generator(real_images)  # images where the noise goes

    generator, discriminator, real = tiny
    with pytest.raises(RuntimeError, match=r"(?s)Your step raised .*student_step\(generator, discriminator"):
        exercises.check_training_step(broken, generator, discriminator, real)


def test_inputs_that_do_not_fit_get_a_clear_error(tiny):
    generator, discriminator, real = tiny
    with pytest.raises(ValueError, match="real_images must be a batch"):
        exercises.check_training_step(_step(), generator, discriminator, real[:, :14])
    with pytest.raises(ValueError, match=r"z must have shape \(16, 8\)"):
        exercises.check_training_step(_step(), generator, discriminator, real, z=np.zeros((16, 3)))


def test_the_engine_draws_its_noise_where_the_check_replaces_it(tiny):
    """The check injects z through GAN._noise: if the engine stopped drawing there, this fails first."""
    generator, discriminator, real = tiny
    z = tf.constant(np.zeros((len(real), 8), np.float32))
    after = exercises._engine_step(generator, discriminator, keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1),
                                   tf.constant(real), z)
    assert set(after) == {"generator", "discriminator"}
