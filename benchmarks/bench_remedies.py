"""Cost of a generator step with each of notebook 5's remedies, relative to the plain GAN.

Trains the same models on the same data in one process, alternating between the settings in
several repeats, and prints the median milliseconds per generator step and its ratio to the
plain setting. Notebook 5 uses these ratios to give every remedy about the same CPU time.

    python benchmarks/bench_remedies.py                  # notebook 3's classroom DCGAN on MNIST
    python benchmarks/bench_remedies.py --ring           # notebook 5's 2-D MLPs on the ring
    python benchmarks/bench_remedies.py --repeats 5 --steps 100
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from gan_utils import config, data, models, toy2d, training  # noqa: E402

SETTINGS = {  # name: (GAN options, spectral norm in D)
    "plain": ({}, False),
    "hinge": ({"loss": "hinge"}, False),
    "R1": ({"r1_penalty": 0.1}, False),
    "spectral norm + hinge": ({"loss": "hinge"}, True),
    "WGAN-GP (5 critic steps)": ({"loss": "wasserstein", "gradient_penalty": 10.0, "d_steps": 5}, False),
}


def build(ring: bool, options: dict, spectral_norm: bool) -> training.GAN:
    if ring:
        g, d = models.mlp_generator_2d(), models.mlp_discriminator_2d(spectral_norm=spectral_norm)
    else:
        g = models.dcgan_generator(size="classroom")
        d = models.dcgan_discriminator(size="classroom", spectral_norm=spectral_norm)
    gan = training.GAN(g, d, ema_decay=None if ring else 0.999, seed=0, **options)
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5), g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5))
    return gan


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ring", action="store_true", help="the 2-D MLPs on the ring instead of the DCGAN")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=None, help="G steps per timed repeat (default 100, ring 500)")
    args = parser.parse_args(argv)
    config.set_seed(0)
    steps = args.steps or (500 if args.ring else 100)
    if args.ring:
        dataset = data.as_dataset(toy2d.ring(std=0.05).sample(50_000), batch_size=256, seed=0).repeat()
        print("notebook 5's 2-D MLPs on the ring, batch 256")
    else:
        images, _ = data.load_mnist(value_range="tanh")
        dataset = data.as_dataset(images, batch_size=32, seed=0).repeat()
        print("notebook 3's classroom DCGAN, batch 32, moving average of G")
    gans = {name: build(args.ring, *setting) for name, setting in SETTINGS.items()}
    for gan in gans.values():  # compile and warm up outside the timing
        gan.fit(dataset, epochs=1, steps_per_epoch=20, verbose=0)
    times = {name: [] for name in gans}
    for _ in range(args.repeats):
        for name, gan in gans.items():
            start = time.perf_counter()
            gan.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
            times[name].append(1000 * (time.perf_counter() - start) / steps)
    base = statistics.median(times["plain"])
    print(f"{'setting':>26} {'ms per G step (median)':>24} {'ratio to plain':>15}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:>26} {median:>24.2f} {median / base:>15.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
