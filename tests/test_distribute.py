"""The engine under tf.distribute: MirroredStrategy over two logical CPU devices.

tests/conftest.py splits the CPU into /cpu:0 and /cpu:1 before TensorFlow starts. What is
tested: one step on two replicas moves every weight as one step on one device with the same
global batch and the same random numbers (plain SGD, so a replica-count factor cannot hide in
Adam's normalisation); each replica draws its own numbers, reproducibly; fit() takes a
distributed dataset. What is not: real GPUs and TPUs (the same code path, not run here).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from gan_utils import augment, data, models, training

SEED = 7
GLOBAL_BATCH = 8


@pytest.fixture(scope="module")
def strategy():
    cpus = [device.name for device in tf.config.list_logical_devices("CPU")]
    assert len(cpus) >= 2, (f"tf.distribute tests need two logical CPU devices, found {cpus}: tests/conftest.py "
                            "splits the CPU, but TensorFlow had initialised its devices before it ran.")
    return tf.distribute.MirroredStrategy(cpus[:2])


class _GivenDraws(training.GAN):
    """A one-device GAN whose noise and wrong labels are given instead of drawn."""

    def __init__(self, *args, z, label_shifts, **kwargs):
        super().__init__(*args, **kwargs)
        self.given_z, self.given_label_shifts = z, label_shifts

    def _noise(self, batch):
        return ops.convert_to_tensor(self.given_z)

    def _wrong_labels(self, labels):
        return (labels + ops.convert_to_tensor(self.given_label_shifts)) % self.num_classes


def _replica_draws(conditional, replicas=2):
    """What the replicas draw in one step, concatenated in replica order (= batch order).

    Replica r draws as a one-device GAN seeded with SEED + r * REPLICA_SEED_STRIDE: first the
    noise for its half of the batch, then (mismatched pairs) the label shifts.
    """
    per_replica = GLOBAL_BATCH // replicas
    z, shifts = [], []
    for r in range(replicas):
        seeds = keras.random.SeedGenerator(SEED + r * training.REPLICA_SEED_STRIDE)
        z.append(keras.random.normal((per_replica, 100), seed=seeds))
        if conditional:
            shifts.append(keras.random.randint((per_replica,), 1, 10, seed=seeds, dtype="int32"))
    return np.concatenate(z), (np.concatenate(shifts) if conditional else None)


def _gan(conditional, cls=training.GAN, **kwargs):
    keras.utils.set_random_seed(0)
    pair = ((models.conditional_mlp_generator(hidden=32), models.conditional_mlp_discriminator(hidden=32))
            if conditional else (models.mlp_generator(hidden=32), models.mlp_discriminator(hidden=32)))
    gan = cls(*pair, seed=SEED, track_grad_norm=True, **kwargs)
    gan.compile(keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1), steps_per_execution=1)
    return gan


def _batch(conditional):
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (GLOBAL_BATCH, 28, 28, 1)).astype(np.float32)
    labels = rng.integers(0, 10, GLOBAL_BATCH).astype(np.int32)
    return tf.data.Dataset.from_tensor_slices((images, labels) if conditional else images).batch(GLOBAL_BATCH)


def _update(after, before):
    return np.concatenate([(a - b).ravel() for a, b in zip(after, before)])


@pytest.mark.parametrize("conditional, kwargs", [
    (False, {}),
    (True, {"mismatched_pairs": True, "ema_decay": 0.9}),
], ids=["unconditional", "conditional-mismatched-ema"])
def test_one_step_on_two_replicas_is_one_step_on_one_device(strategy, conditional, kwargs):
    with strategy.scope():
        mirrored = _gan(conditional, **kwargs)
    z, label_shifts = _replica_draws(conditional)
    single = _gan(conditional, _GivenDraws, z=z, label_shifts=label_shifts, **kwargs)
    start = [mirrored.generator.get_weights(), mirrored.discriminator.get_weights()]
    for net, weights in zip((single.generator, single.discriminator), start):
        assert all(np.array_equal(a, b) for a, b in zip(net.get_weights(), weights))

    logged = {}
    for name, gan in (("mirrored", mirrored), ("single", single)):
        logged[name] = gan.fit(_batch(conditional), epochs=1, verbose=0).history

    for net, before in zip(("generator", "discriminator"), start):
        moved = _update(getattr(mirrored, net).get_weights(), before)
        expected = _update(getattr(single, net).get_weights(), before)
        # Losses as per-replica means with summed gradients would give 2.0 here.
        assert np.linalg.norm(moved) / np.linalg.norm(expected) == pytest.approx(1.0, abs=1e-4), net
        np.testing.assert_allclose(moved, expected, rtol=1e-4, atol=1e-7)
    for a, b in zip(mirrored.sampler.get_weights(), single.sampler.get_weights()):  # the EMA copy too
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    # g_grad_norm is the norm of the summed gradient, and the logged means are the global batch's.
    for key, value in logged["single"].items():
        assert logged["mirrored"][key] == pytest.approx(value, rel=1e-5), key


def test_each_replica_draws_its_own_numbers_and_a_run_repeats(strategy):
    def draw(gan):
        """One noise batch and one DiffAugment shift per replica, drawn as train_step draws them."""
        ones = ops.ones((4, 28, 28, 1))
        ramp = ops.reshape(ops.arange(28, dtype="float32"), (1, 28, 1, 1)) * ones  # rows numbered 0..27

        def replica_step():
            return gan._noise(4), augment.random_shift(ramp, 3, gan._seeds())

        noise, shifted = strategy.run(replica_step)
        local = strategy.experimental_local_results
        return [np.asarray(v) for v in local(noise)], [np.asarray(v) for v in local(shifted)]

    with strategy.scope():
        noise, shifted = draw(_gan(False))
        noise_again, shifted_again = draw(_gan(False))
    assert not np.allclose(noise[0], noise[1])  # its own noise...
    assert not np.array_equal(shifted[0], shifted[1])  # ...and its own augmentation
    for r in range(2):  # reproducible: the same seed gives the same numbers on every replica
        np.testing.assert_array_equal(noise[r], noise_again[r])
        np.testing.assert_array_equal(shifted[r], shifted_again[r])
        # Replica r draws what a one-device generator seeded with SEED + r * stride draws.
        seeds = keras.random.SeedGenerator(SEED + r * training.REPLICA_SEED_STRIDE)
        np.testing.assert_array_equal(noise[r], keras.random.normal((4, 100), seed=seeds))
    np.testing.assert_array_equal(noise[0], _gan(False)._noise(4))  # replica 0 = one device


def test_fit_takes_a_plain_or_a_distributed_dataset(strategy):
    images = np.random.default_rng(1).uniform(-1, 1, (32, 28, 28, 1)).astype(np.float32)
    dataset = data.as_dataset(images, batch_size=GLOBAL_BATCH, shuffle=False)
    runs = []
    for distribute in (False, True):
        with strategy.scope():
            keras.utils.set_random_seed(0)
            gan = training.GAN(models.mlp_generator(hidden=32), models.mlp_discriminator(hidden=32), seed=SEED,
                               ema_decay=0.9, augment_shift=2)
            gan.compile()
        ds = strategy.experimental_distribute_dataset(dataset) if distribute else dataset
        history = gan.fit(ds, epochs=1, verbose=0).history
        runs.append((history, gan.sampler.get_weights(), int(gan.d_optimizer.iterations.numpy())))
    assert runs[0][2] == runs[1][2] == 4  # 32 images in global batches of 8
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)


def test_steps_per_execution_is_one_under_a_mirrored_strategy(strategy):
    with strategy.scope():
        gan = training.GAN(models.mlp_generator(), models.mlp_discriminator())
        gan.compile()
        assert gan.steps_per_execution == 1
        with pytest.raises(ValueError, match=r"steps_per_execution=10 does not run under MirroredStrategy"):
            gan.compile(steps_per_execution=10)
    single = training.GAN(models.mlp_generator(), models.mlp_discriminator())
    single.compile()
    assert single.steps_per_execution == 10  # one device keeps its default
