"""Training speed: the source tutorials' Keras 2 loop vs a TF-tutorial tape loop vs the gan_utils engine.

All loops train the same model sizes on the same data in one process, in alternating repeats,
so that the machine's drift hits each of them alike. Prints median steps/s and ratios;
``--json`` adds one JSON object as the last line.

    python benchmarks/bench_training.py            # about 3 minutes on a 2-core CPU
    python benchmarks/bench_training.py --quick    # a few seconds, to check it runs

Case 1, Lee's digit-2 MLP at batch 100:
  (a) keras2_loop: the tutorials' ``train_on_batch`` loop as written: predict, D.train_on_batch on
      real and fake, then the frozen-D "combined" model. On Keras 3 its D never changes.
  (b) tape_loop: ``@tf.function`` with two ``GradientTape``s over ``tf.data`` (TF's tutorial).
  (c) gan_utils: ``gan_utils.training.GAN`` through ``fit()`` with its defaults
      (Lee's alternating update, ``steps_per_execution=10``, no XLA); also with
      ``update="simultaneous"`` (the tutorial's update rule, so the same work per step as (b)),
      with ``steps_per_execution=1`` (Keras's default) and with ``jit_compile=True`` (XLA).
Case 2, the classroom DCGAN at batch 64: (b) against (c), both updates.

The engine is timed from the start to the end of its epoch (a ``fit()`` call of one epoch),
which leaves out ``fit()``'s one-off set-up of about 0.1-0.4 s: a real run pays it once, not
once per few hundred steps. The tape loop's iterator is likewise made once.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from gan_utils import data, models, training  # noqa: E402

LATENT = 100


# -- (a) the tutorials' loop, as written in Lee's notes ------------------------------------------------

def make_keras2_loop(images, batch):
    """Lee's Keras 2 code, unchanged apart from imports. Returns (run(steps), d_weights)."""
    generator = keras.Sequential([keras.Input((LATENT,)), keras.layers.Dense(256, activation="relu"),
                                  keras.layers.Dense(784, activation="sigmoid")])
    discriminator = keras.Sequential([keras.Input((784,)), keras.layers.Dense(256, activation="relu"),
                                      keras.layers.Dense(1, activation="sigmoid")])
    discriminator.compile(optimizer=keras.optimizers.Adam(1e-4), loss="binary_crossentropy")
    discriminator.trainable = False  # the Keras 2 trick under test
    z_in = keras.Input((LATENT,))
    combined = keras.Model(z_in, discriminator(generator(z_in)))
    combined.compile(optimizer=keras.optimizers.Adam(2e-4), loss="binary_crossentropy")
    flat = images.reshape(len(images), 784)
    real, fake = np.ones(batch), np.zeros(batch)

    def run(steps):
        for _ in range(steps):
            noise = np.random.normal(0, 1, [batch, LATENT])
            generated = generator.predict(noise, verbose=0)
            idx = np.random.randint(0, flat.shape[0], batch)
            discriminator.train_on_batch(flat[idx], real)
            discriminator.train_on_batch(generated, fake)
            combined.train_on_batch(np.random.normal(0, 1, [batch, LATENT]), real)

    return run, discriminator


# -- (b) the TensorFlow tutorial's loop --------------------------------------------------------

def make_tape_loop(generator, discriminator, dataset):
    g_opt, d_opt = keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)

    @tf.function
    def train_step(images):
        noise = tf.random.normal([tf.shape(images)[0], LATENT])
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = generator(noise, training=True)
            real_out = discriminator(images, training=True)
            fake_out = discriminator(fake, training=True)
            g_loss = bce(tf.ones_like(fake_out), fake_out)
            d_loss = bce(tf.ones_like(real_out), real_out) + bce(tf.zeros_like(fake_out), fake_out)
        g_opt.apply_gradients(zip(g_tape.gradient(g_loss, generator.trainable_variables),
                                  generator.trainable_variables))
        d_opt.apply_gradients(zip(d_tape.gradient(d_loss, discriminator.trainable_variables),
                                  discriminator.trainable_variables))

    iterator = iter(dataset.repeat())

    def run(steps):
        for _ in range(steps):
            train_step(next(iterator))

    return run


# -- (c) the engine ----------------------------------------------------------------------------

class EpochTimer(keras.callbacks.Callback):
    """Seconds between the start and the end of the last epoch."""

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.start


def make_engine(generator, discriminator, dataset, update="alternating", **compile_args):
    gan = training.GAN(generator, discriminator, update=update)
    gan.compile(**compile_args)
    repeated = dataset.repeat()
    timer = EpochTimer()

    def run(steps):
        gan.fit(repeated, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=[timer])
        return timer.seconds

    return run


def measure(loops: dict, steps: dict, repeats: int) -> dict:
    """Median steps/s of each loop; loops alternate within every repeat.

    A loop's ``run(steps)`` may return the seconds it measured itself (the engine times its
    epoch); otherwise the wall time of the call is used.
    """
    for name, run in loops.items():  # warm-up: tracing, compilation, first allocations
        run(max(2, steps[name] // 5))
    rates = {name: [] for name in loops}
    for _ in range(repeats):
        for name, run in loops.items():
            start = time.perf_counter()
            seconds = run(steps[name])
            seconds = seconds if seconds is not None else time.perf_counter() - start
            rates[name].append(steps[name] / seconds)
    return {name: statistics.median(values) for name, values in rates.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a few seconds: check that it runs")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args(argv)
    repeats = args.repeats or (2 if args.quick else 5)
    scale = 0.1 if args.quick else 1.0
    warnings.filterwarnings("ignore")
    keras.utils.set_random_seed(0)

    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, {os.cpu_count()} CPU cores, "
          f"GPU: {bool(tf.config.list_physical_devices('GPU'))}; {repeats} alternating repeats, medians.")
    twos, _ = data.load_mnist(digits=2, value_range="sigmoid")
    mlp_ds = data.as_dataset(twos, batch_size=100)

    keras2_run, keras2_d = make_keras2_loop(twos, 100)
    d_before = [w.copy() for w in keras2_d.get_weights()]
    mlp = {
        "keras2_loop": keras2_run,
        "tape_loop": make_tape_loop(models.mlp_generator(), models.mlp_discriminator(), mlp_ds),
        "gan_utils": make_engine(models.mlp_generator(), models.mlp_discriminator(), mlp_ds),
        "gan_utils_simultaneous": make_engine(models.mlp_generator(), models.mlp_discriminator(), mlp_ds,
                                              update="simultaneous"),
        "gan_utils_spe1": make_engine(models.mlp_generator(), models.mlp_discriminator(), mlp_ds,
                                      steps_per_execution=1),
        "gan_utils_xla": make_engine(models.mlp_generator(), models.mlp_discriminator(), mlp_ds, jit_compile=True),
    }
    n = lambda k: max(10, int(k * scale))  # noqa: E731
    mlp_steps = {name: n(40) if name == "keras2_loop" else n(1000) for name in mlp}
    mlp_rates = measure(mlp, mlp_steps, repeats)
    d_changed = any(not np.array_equal(a, b) for a, b in zip(d_before, keras2_d.get_weights()))

    print("\nCase 1: the MLP GAN of Seungchul Lee's GAN lecture notes on the 2s, batch 100 (steps/s, median)")
    print("  (keras2_loop: the classic Keras 2 train_on_batch loop with a frozen-D combined model)")
    for name, rate in mlp_rates.items():
        print(f"  {name:<16} {rate:8.1f}")
    print(f"  seed loop's discriminator weights changed during training: {d_changed}")
    print(f"  gan_utils / tape_loop = {mlp_rates['gan_utils'] / mlp_rates['tape_loop']:.2f}x, "
          f"gan_utils / keras2_loop = {mlp_rates['gan_utils'] / mlp_rates['keras2_loop']:.1f}x")
    print(f"  same update rule as the tape loop: gan_utils_simultaneous / tape_loop = "
          f"{mlp_rates['gan_utils_simultaneous'] / mlp_rates['tape_loop']:.2f}x")
    engines = [name for name in mlp if name.startswith("gan_utils")]
    best = max(engines, key=mlp_rates.get)
    print(f"  fastest engine setting: {best} ({mlp_rates[best] / mlp_rates['tape_loop']:.2f}x tape_loop)")

    digits, _ = data.load_mnist(value_range="tanh", verbose=False)
    conv_ds = data.as_dataset(digits, batch_size=64)
    conv = {
        "tape_loop": make_tape_loop(models.dcgan_generator(), models.dcgan_discriminator(), conv_ds),
        "gan_utils": make_engine(models.dcgan_generator(), models.dcgan_discriminator(), conv_ds),
        "gan_utils_simultaneous": make_engine(models.dcgan_generator(), models.dcgan_discriminator(), conv_ds,
                                              update="simultaneous"),
        "gan_utils_xla": make_engine(models.dcgan_generator(), models.dcgan_discriminator(), conv_ds,
                                     jit_compile=True),
    }
    conv_rates = measure(conv, {k: n(100) for k in conv}, repeats)
    print("\nCase 2: classroom DCGAN on all digits, batch 64 (steps/s, median)")
    for name, rate in conv_rates.items():
        print(f"  {name:<16} {rate:8.1f}")
    print(f"  gan_utils / tape_loop = {conv_rates['gan_utils'] / conv_rates['tape_loop']:.2f}x, "
          f"gan_utils_simultaneous / tape_loop = {conv_rates['gan_utils_simultaneous'] / conv_rates['tape_loop']:.2f}x")

    if args.json:
        result = {**{k: round(v, 2) for k, v in mlp_rates.items()},
                  "keras2_loop_trains_discriminator": d_changed,
                  "dcgan": {k: round(v, 2) for k, v in conv_rates.items()},
                  "repeats": repeats, "quick": args.quick}
        print(json.dumps(result))


if __name__ == "__main__":
    main()
