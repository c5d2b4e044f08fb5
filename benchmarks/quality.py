"""Sample quality of the series' models, each beside its real-data reference.

Trains the models of notebooks 2-4 at their CPU "full" budgets (or tiny ones with ``--quick``)
with the same gan_utils calls and settings as the notebooks, then measures them with the
judge classifier of ``gan_utils.metrics``. ``--anchors`` also trains the source tutorials' own models as
written (fixed to train on Keras 3), the reference points the series promises to beat.

    python benchmarks/quality.py --out results/          # about 14 minutes on a 2-core CPU (--anchors: about 24)
    python benchmarks/quality.py --quick --out /tmp/q    # a few minutes
    python benchmarks/quality.py --only dcgan
    python benchmarks/quality.py --only cgan --only cgan_plain   # what mismatched pairs do
    python benchmarks/quality.py --only cgan --only cgan_half    # a quarter of the negatives' weight, or half
    python benchmarks/quality.py --only dcgan --only dcgan_augment   # what DiffAugment does
    python benchmarks/quality.py --only dcgan --only dcgan_r1        # what notebook 5's R1 penalty does
    python benchmarks/quality.py --ring                   # notebook 5's table on the ring (about 4 minutes)

``--out DIR`` writes DIR/<name>.npz with ``x``: float32 (N, 28, 28, 1) in [0, 1], N = 5,000,
and for the conditional GAN ``labels``: the digit asked for, 500 of each.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from gan_utils import config, data, metrics, models, toy2d, training  # noqa: E402

N_SAMPLES = 5_000


def vanilla(quick: bool):
    """Notebook 2's final model: the BatchNorm MLP of the Keras-GAN style and PyTorch introductions on the 2s, EMA sampling."""
    images, _ = data.load_mnist(digits=2, value_range="tanh", verbose=False)
    gan = training.GAN(models.bn_mlp_generator(), models.bn_mlp_discriminator(), ema_decay=0.999, seed=42)
    gan.compile()
    steps = 3_000 if quick else 18_000
    gan.fit(data.as_dataset(images, batch_size=64, seed=42).repeat(), epochs=steps // 300,
            steps_per_epoch=300, verbose=0)
    return gan.sample(N_SAMPLES, seed=1), None, "tanh", [2], steps


def dcgan(quick: bool, augment_shift: int = 0, r1_penalty: float = 0.0):
    """Notebook 3's classroom DCGAN on all digits (hidden dense layer and 7x7 refinement in G), EMA sampling."""
    images, _ = data.load_mnist(value_range="tanh", verbose=False)
    gan = training.GAN(models.dcgan_generator(size="classroom"), models.dcgan_discriminator(size="classroom"),
                       ema_decay=0.999, augment_shift=augment_shift, r1_penalty=r1_penalty, seed=42)
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
                g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5))
    steps = 1_000 if quick else 20_000
    gan.fit(data.as_dataset(images, batch_size=32, seed=42).repeat(), epochs=10, steps_per_epoch=steps // 10,
            verbose=0)
    return gan.sample(N_SAMPLES, seed=1), None, "tanh", None, steps


def cgan(quick: bool, mismatched_pairs: bool | float = 0.25, full_steps: int = 24_000):
    """Notebook 4's conditional DCGAN: one-hot label joined to z, tiled as image channels for D;
    real images under wrong labels as extra negatives for D, with a quarter of the negatives' weight."""
    images, labels = data.load_mnist(value_range="tanh", verbose=False)
    gan = training.GAN(models.conditional_dcgan_generator(size="classroom"),
                       models.conditional_dcgan_discriminator(size="classroom"), ema_decay=0.999,
                       mismatched_pairs=mismatched_pairs, seed=42)
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
                g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5))
    steps = 1_000 if quick else full_steps
    gan.fit(data.as_dataset(images, labels, batch_size=32, seed=42).repeat(), epochs=10,
            steps_per_epoch=steps // 10, verbose=0)
    asked = np.repeat(np.arange(10), N_SAMPLES // 10)
    return gan.sample(labels=asked, seed=1), asked, "tanh", None, steps


def cgan_half(quick: bool):
    """Ablation: notebook 4's model with mismatched pairs given half of the negatives' weight
    (``mismatched_pairs=True``, as Reed et al. and the conditional-GAN learning record do) instead
    of a quarter: D checks labels harder, G keeps less variety."""
    return cgan(quick, mismatched_pairs=True)


def cgan_plain(quick: bool):
    """Ablation: notebook 4's model without mismatched pairs, for about the same training time
    (30,000 steps: each step skips one pass of D over the real batch)."""
    return cgan(quick, mismatched_pairs=False, full_steps=30_000)


def dcgan_augment(quick: bool):
    """Ablation: notebook 3's DCGAN with DiffAugment (every image D sees shifted by up to 2 pixels)."""
    return dcgan(quick, augment_shift=2)


def dcgan_r1(quick: bool):
    """Ablation: notebook 3's DCGAN with notebook 5's R1 penalty on D (gamma 0.1)."""
    return dcgan(quick, r1_penalty=0.1)


def lee_vanilla(quick: bool):
    """Anchor: the MLP of Lee's notes on the 2s as written (20,000 steps, batch 100, Adam 1e-4 / 2e-4)."""
    images, _ = data.load_mnist(digits=2, value_range="sigmoid", verbose=False)
    gan = training.GAN(models.mlp_generator(), models.mlp_discriminator(), seed=42)
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-4), g_optimizer=keras.optimizers.Adam(2e-4))
    steps = 2_000 if quick else 20_000
    gan.fit(data.as_dataset(images, batch_size=100, seed=42).repeat(), epochs=10, steps_per_epoch=steps // 10,
            verbose=0)
    return gan.sample(N_SAMPLES, seed=1), None, "sigmoid", [2], steps


def lee_cgan(quick: bool):
    """Anchor: the one-hot MLP CGAN of Lee's notes as written (latent 128, 30,000 steps, batch 50, Adam 2e-4)."""
    images, labels = data.load_mnist(value_range="sigmoid", verbose=False)
    gan = training.GAN(models.conditional_mlp_generator(latent_dim=128), models.conditional_mlp_discriminator(),
                       seed=42)
    gan.compile(d_optimizer=keras.optimizers.Adam(2e-4), g_optimizer=keras.optimizers.Adam(2e-4))
    steps = 3_000 if quick else 30_000
    gan.fit(data.as_dataset(images, labels, batch_size=50, seed=42).repeat(), epochs=10,
            steps_per_epoch=steps // 10, verbose=0)
    asked = np.repeat(np.arange(10), N_SAMPLES // 10)
    return gan.sample(labels=asked, seed=1), asked, "sigmoid", None, steps


def sun_dcgan_models():
    """Sun Yudao's DCGAN ported to Keras as written, at 28x28 instead of its resized 32x32.

    G: Dense(128*7*7) -> BN -> up -> conv 128 -> BN -> LeakyReLU -> up -> conv 64 -> BN ->
    LeakyReLU -> conv 1, tanh. D: four stride-2 3x3 convs 16-32-64-128, each with LeakyReLU and
    spatial dropout 0.25, BatchNorm after all but the first, then one dense logit. The seed's
    ``BatchNorm2d(n, 0.8)`` sets epsilon to 0.8; that is kept, since this is the seed as written.
    """
    layers = keras.layers
    z = keras.Input((100,))
    h = layers.Reshape((7, 7, 128))(layers.Dense(128 * 7 * 7)(z))
    h = layers.UpSampling2D()(layers.BatchNormalization()(h))
    h = layers.LeakyReLU(0.2)(layers.BatchNormalization(epsilon=0.8)(layers.Conv2D(128, 3, padding="same")(h)))
    h = layers.UpSampling2D()(h)
    h = layers.LeakyReLU(0.2)(layers.BatchNormalization(epsilon=0.8)(layers.Conv2D(64, 3, padding="same")(h)))
    generator = keras.Model(z, layers.Conv2D(1, 3, padding="same", activation="tanh")(h), name="sun_g")
    x = keras.Input((28, 28, 1))
    h = x
    for i, filters in enumerate((16, 32, 64, 128)):
        h = layers.SpatialDropout2D(0.25)(layers.LeakyReLU(0.2)(layers.Conv2D(filters, 3, 2, padding="same")(h)))
        if i > 0:
            h = layers.BatchNormalization(epsilon=0.8)(h)
    discriminator = keras.Model(x, layers.Dense(1)(layers.Flatten()(h)), name="sun_d")
    return generator, discriminator


def sun_dcgan(quick: bool):
    """Anchor: Sun Yudao's DCGAN as written (batch 256, Adam 2e-4, beta_1 0.5) for the 263 steps
    that fit in 10 minutes on a 2-core CPU (about 2.3 s a step)."""
    images, _ = data.load_mnist(value_range="tanh", verbose=False)
    generator, discriminator = sun_dcgan_models()
    gan = training.GAN(generator, discriminator, seed=42)
    gan.compile()  # Adam 2e-4, beta_1 0.5: the seed's settings
    steps = 10 if quick else 263
    gan.fit(data.as_dataset(images, batch_size=256, seed=42).repeat(), epochs=1, steps_per_epoch=steps, verbose=0)
    return gan.sample(N_SAMPLES, seed=1), None, "tanh", None, steps


RING = toy2d.ring(modes=8, radius=2.0, std=0.02)
RING_REMEDIES = {  # notebook 5's runs on the ring: train_ring's options
    "ring_plain": {},
    "ring_hinge": {"loss": "hinge"},
    "ring_r1": {"r1_penalty": 1.0},
    "ring_wgan_gp": {"loss": "wasserstein", "gradient_penalty": 0.1, "d_steps": 5, "beta_2": 0.9},
    "ring_sn_hinge": {"loss": "hinge", "spectral_norm": True},
    "ring_ttur": {"lr_d": 4e-3},
    "ring_lr_1e-2": {"lr_d": 1e-2, "lr_g": 1e-2},
}


def train_ring(quick: bool, lr_d=1e-3, lr_g=1e-3, spectral_norm=False, beta_2=0.999, seed=42, **options):
    """Notebook 5's 2-D GAN on the ring (train_ring there): 8,000 steps of batch 256, Adam beta_1 0.5
    with a cosine decay to a tenth.

    Returns the final points of the raw generator on 2,000 fixed noise vectors, the number of
    G steps, and the high-quality share after each of the last three epochs."""
    config.set_seed(seed)
    gan = training.GAN(models.mlp_generator_2d(), models.mlp_discriminator_2d(spectral_norm=spectral_norm),
                       seed=seed, **options)
    epochs = 4 if quick else 16

    def adam(rate, updates):
        schedule = keras.optimizers.schedules.CosineDecay(rate, updates, alpha=0.1)
        return keras.optimizers.Adam(schedule, beta_1=0.5, beta_2=beta_2)

    gan.compile(d_optimizer=adam(lr_d, epochs * 500 * gan.d_steps), g_optimizer=adam(lr_g, epochs * 500))
    dataset = data.as_dataset(RING.sample(50_000, seed=seed), batch_size=256, seed=seed).repeat()
    z = gan.noise(2_000, seed=1234)
    reports = []
    for _ in range(epochs):
        gan.fit(dataset, epochs=1, steps_per_epoch=500, verbose=0)
        reports.append(toy2d.mode_report(np.asarray(gan.generator(z)), RING))
    return reports, epochs * 500


def ring_line(name: str, reports, seconds: float, steps: int) -> str:
    last = reports[-3:]
    return (f"{name:<16} {steps:>7,} steps {seconds:6.0f} s | modes covered {reports[-1].modes_covered} of 8 "
            f"(worst of last 3: {min(r.modes_covered for r in last)}) | high-quality share "
            f"{reports[-1].high_quality:.0%} (worst of last 3: {min(r.high_quality for r in last):.0%})")


MODELS = {"vanilla": vanilla, "dcgan": dcgan, "cgan": cgan}
ABLATIONS = {"cgan_plain": cgan_plain, "cgan_half": cgan_half, "dcgan_augment": dcgan_augment, "dcgan_r1": dcgan_r1}  # run with --only
ANCHORS = {"lee_vanilla": lee_vanilla, "sun_dcgan": sun_dcgan, "lee_cgan": lee_cgan}
RUNS = {**MODELS, **ANCHORS, **ABLATIONS}


def report(name: str, result: dict, seconds: float, steps: int) -> str:
    """One line of figures for a run, each beside real data's: ``result`` is ``metrics.evaluate``'s dict.

    FID has a floor (real digits' FID); precision and recall have ceilings (real digits' figures at
    the same sample sizes, k = ``result["k"]`` neighbours, ``result["pr_real_n"]`` real test images).
    """
    shares = result["histogram"] / result["histogram"].sum()
    digits = result["digits"]
    line = (f"{name:<16} {steps:>7,} steps {seconds:6.0f} s | FID {result['fid']:7.2f} "
            f"(real {result['fid_real_reference']:.2f}, ratio {result['fid'] / result['fid_real_reference']:5.1f}x) | "
            f"precision {result['precision']:.3f} (real {result['precision_real_reference']:.3f}) | "
            f"recall {result['recall']:.3f} (real {result['recall_real_reference']:.3f}) | "
            f"coverage {result['coverage']:.3f} (real {result['coverage_real_reference']:.3f}) | "
            f"min digit share {shares.min():.3f}")
    if digits is not None and len(digits) == 1:
        line += f" | judged a {digits[0]}: {shares[digits[0]]:.1%}"
    if "label_accuracy" in result:
        worst = np.nanmin(result["per_digit_accuracy"])
        line += (f" | label accuracy {result['label_accuracy']:.1%} (judge on real: "
                 f"{result['accuracy_real_reference']:.1%}), worst digit {worst:.1%}")
    return line


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny budgets: check that everything runs")
    parser.add_argument("--out", type=Path, help="write <name>.npz sample files here")
    parser.add_argument("--only", choices=sorted(RUNS) + sorted(RING_REMEDIES), action="append",
                        help="run only this model (repeatable)")
    parser.add_argument("--anchors", action="store_true", help="also train the source tutorials' anchor models")
    parser.add_argument("--ring", action="store_true", help="only notebook 5's runs on the ring of 8 Gaussians")
    args = parser.parse_args(argv)

    config.set_seed(42)
    if args.ring or (args.only and all(name in RING_REMEDIES for name in args.only)):
        lines = []
        for name in args.only or list(RING_REMEDIES):
            start = time.perf_counter()
            reports, steps = train_ring(args.quick, **RING_REMEDIES[name])
            lines.append(ring_line(name, reports, time.perf_counter() - start, steps))
            print(lines[-1], flush=True)
        print("\nReal data: " + str(toy2d.mode_report(RING.sample(2_000, seed=42), RING)))
        return 0
    if args.only and any(name in RING_REMEDIES for name in args.only):
        parser.error("ring runs and image runs go in separate calls (--ring, or --only ring_... alone)")
    wanted = args.only or (list(MODELS) + (list(ANCHORS) if args.anchors else []))
    judge = metrics.load_judge()
    print(f"judge: test accuracy {judge.test_accuracy:.2%} on {judge.source}")
    print(f"precision and recall: k = {metrics.PR_K} nearest neighbours in the judge's features; "
          "'real' figures compare real training digits with the same test digits, at the same sizes")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    lines = []
    for name in wanted:
        train = RUNS[name]
        start = time.perf_counter()
        images, labels, value_range, digits, steps = train(args.quick)
        seconds = time.perf_counter() - start
        unit = data.to_unit_range(images, value_range).astype(np.float32)
        result = metrics.evaluate(judge, unit, value_range="sigmoid", labels=labels, digits=digits)
        lines.append(report(name, result, seconds, steps))
        print(lines[-1], flush=True)
        if args.out:
            arrays = {"x": unit} if labels is None else {"x": unit, "labels": labels.astype(np.int64)}
            np.savez_compressed(args.out / f"{name}.npz", **arrays)
    print("\nSummary (" + ("quick budgets" if args.quick else "CPU full budgets") + "):")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
