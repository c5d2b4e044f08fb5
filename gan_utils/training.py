"""The training engine: one compiled Keras 3 GAN for unconditional and conditional models.

The seeds train with the Keras 2 "combined model" trick (freeze the discriminator inside a
stacked model, then ``train_on_batch``). On Keras 3 that discriminator never learns. Here a
``keras.Model`` subclass overrides ``train_step`` instead, so training runs through ``fit()``
(progress bar, History, callbacks) as one compiled TensorFlow graph per step.

One step, as in seed 004's formulation (``update="alternating"``, the default):

1. fix G, take ``d_steps`` gradient steps on D to separate real images from G(z);
2. fix D, take one gradient step on G to make D(G(z)) look real.

``update="simultaneous"`` is the TensorFlow DCGAN tutorial's step instead: one forward pass,
both gradients taken from the same verdicts, both networks updated at once. It skips the second
look at the fakes by the updated D, so it is cheaper per step.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from . import augment, data
from .callbacks import StopOnNaN

G_LOSSES = ("non_saturating", "minimax")
UPDATES = ("alternating", "simultaneous")


# --------------------------------------------------------------------------------------------
# Losses, written on logits: log D(x) = -softplus(-logit), log(1 - D(x)) = -softplus(logit)
# --------------------------------------------------------------------------------------------

def discriminator_loss(real_logits, fake_logits, real_label: float = 1.0):
    """Binary cross-entropy of D over a half-real, half-fake batch (the mean of the two halves).

    ``-[t log D(x) + (1 - t) log(1 - D(x))]`` on real images with target ``t = real_label``
    (1.0, or 0.9 for one-sided label smoothing), plus ``-log(1 - D(G(z)))`` on fakes, averaged.
    At the theoretical equilibrium D = 1/2 everywhere and this loss is log 2 = 0.69.
    """
    real_term = real_label * ops.softplus(-real_logits) + (1.0 - real_label) * ops.softplus(real_logits)
    fake_term = ops.softplus(fake_logits)
    return 0.5 * (ops.mean(real_term) + ops.mean(fake_term))


def generator_loss(fake_logits, kind: str = "non_saturating"):
    """G's loss on D's logits for G(z).

    * "non_saturating": minimise ``-log D(G(z))``. Strong gradients while D rejects fakes;
      log 2 = 0.69 at equilibrium. The default, and what everybody uses.
    * "minimax": minimise ``log(1 - D(G(z)))``, the original game's term. Its gradient
      vanishes when D(G(z)) is near 0, which is exactly the start of training. Its value is
      negative: 0 when D(G(z)) = 0, -log 2 = -0.69 at equilibrium.
    """
    if kind == "non_saturating":
        return ops.mean(ops.softplus(-fake_logits))
    if kind == "minimax":
        return -ops.mean(ops.softplus(fake_logits))
    raise ValueError(f"g_loss must be one of {G_LOSSES}, got {kind!r}.")


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------

class GAN(keras.Model):
    """A generator and a discriminator trained against each other by ``fit()``.

    Args:
        generator: ``z (batch, latent_dim) -> images``, or ``[z, labels] -> images`` for a
            conditional GAN (the engine notices from the number of inputs).
        discriminator: ``images -> logits (batch, 1)``, or ``[images, labels] -> logits``.
        d_steps: discriminator steps per generator step.
        update: "alternating" (default): D's step, then G's step against the updated D, as in
            seed 004. "simultaneous": both gradients from one forward pass, as in TensorFlow's
            DCGAN tutorial; about a third less work per step.
        g_loss: "non_saturating" (default) or "minimax".
        real_label: target for real images in D's loss; 0.9 is one-sided label smoothing.
        ema_decay: if set (e.g. 0.999), keep an exponential moving average of G's weights in
            ``ema_generator`` and sample from it: a cheap, well-known quality boost. The decay
            warms up as ``min(ema_decay, (1 + t) / (10 + t))`` after t generator steps.
        mismatched_pairs: conditional GANs only. D also sees real images paired with a wrong
            label as negatives (seed 002's point; Reed et al. 2016's "matching-aware" D), so
            that it must check the label, not only whether the image looks real. D's loss
            (each term a batch mean) becomes ``1/2 [-log D(x, y)] + 1/4 [-log(1 - D(G(z, y), y))]
            + 1/4 [-log(1 - D(x, y_wrong))]``, with ``y_wrong = (y + k) mod num_classes`` and
            ``k`` uniform in 1..num_classes-1. D then costs one more pass over the real batch.
        augment_shift: DiffAugment (Zhao et al. 2020): every image D sees, real or fake, in D's
            step and in G's step, is first shifted by up to this many pixels, each image by its
            own random amount. D then finds a small training set much harder to memorise, and
            G is still asked for unshifted images. 0 (default) turns it off. Notebook 3 measures
            what it costs.
        track_grad_norm: also log ``g_grad_norm``, the global norm of G's gradient.
        seed: seeds the in-graph noise, so the same seed gives the same run.

    Logged metrics (one name each): ``d_loss``, ``g_loss``, ``d_real`` (mean D(x) on real
    images) and ``d_fake`` (mean D(G(z)) on fakes, before D's update).
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, d_steps: int = 1,
                 update: str = "alternating", g_loss: str = "non_saturating", real_label: float = 1.0,
                 ema_decay: float | None = None, mismatched_pairs: bool = False, augment_shift: int = 0,
                 track_grad_norm: bool = False, seed: int = 0, name: str = "gan", **kwargs):
        super().__init__(name=name, **kwargs)
        _check_pair(generator, discriminator)
        if g_loss not in G_LOSSES:
            raise ValueError(f"g_loss must be one of {G_LOSSES}, got {g_loss!r}.")
        if update not in UPDATES:
            raise ValueError(f"update must be one of {UPDATES}, got {update!r}.")
        if not isinstance(d_steps, int) or d_steps < 1:
            raise ValueError(f"d_steps must be a positive integer, got {d_steps!r}.")
        if not 0.5 < real_label <= 1.0:
            raise ValueError(f"real_label must be in (0.5, 1], got {real_label!r} (0.9 is the usual smoothing).")
        if ema_decay is not None and not 0.0 < ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in (0, 1) or None, got {ema_decay!r}.")
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(generator.inputs[0].shape[-1])
        self.image_shape = tuple(discriminator.inputs[0].shape[1:])
        self.conditional = len(generator.inputs) == 2
        self.num_classes = _num_classes(generator) if self.conditional else None
        self.d_steps = d_steps
        self.update = update
        self.g_loss_kind = g_loss
        self.real_label = float(real_label)
        self.ema_decay = ema_decay
        self.ema_generator = None
        if ema_decay is not None:
            self.ema_generator = keras.models.clone_model(generator)
            self.ema_generator.set_weights(generator.get_weights())
        if mismatched_pairs and not self.conditional:
            raise ValueError("mismatched_pairs needs a conditional GAN: an unconditional D sees no labels.")
        self.mismatched_pairs = bool(mismatched_pairs)
        self.augment_shift = augment.check_shift(augment_shift)
        self.track_grad_norm = track_grad_norm
        self.seed_generator = keras.random.SeedGenerator(seed)
        names = ["d_loss", "g_loss", "d_real", "d_fake"] + (["g_grad_norm"] if track_grad_norm else [])
        self._trackers = {n: keras.metrics.Mean(name=n) for n in names}
        self.built = True

    # -- set-up ------------------------------------------------------------------------------

    def compile(self, d_optimizer=None, g_optimizer=None, jit_compile: bool = False,
                steps_per_execution: int = 10, **kwargs):
        """Attach one optimizer per network (default: Adam, lr 2e-4, beta_1 0.5, from DCGAN).

        ``steps_per_execution=10`` runs ten steps per call into the compiled graph, which
        on a CPU cuts the per-step Python overhead that dominates small models.
        ``jit_compile=True`` asks for XLA, which Keras's "auto" never picks on a CPU; measure
        it (``benchmarks/bench_training.py``): it helps the MLPs on a CPU, not the conv nets.
        """
        self.d_optimizer = d_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
        self.g_optimizer = g_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
        # Built now, so that a checkpoint saved mid-training reloads into matching slots.
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)
        super().compile(optimizer=None, jit_compile=jit_compile, steps_per_execution=steps_per_execution, **kwargs)
        self._requested_steps_per_execution = steps_per_execution

    @property
    def metrics(self):
        return list(self._trackers.values())

    @property
    def sampler(self) -> keras.Model:
        """The generator used for sampling: the moving average when ``ema_decay`` is set."""
        return self.ema_generator if self.ema_generator is not None else self.generator

    def call(self, inputs, training=False):
        """``gan(z)`` or ``gan([z, labels])`` is ``generator(...)``: images from noise."""
        return self.generator(inputs, training=training)

    # -- the training step -------------------------------------------------------------------

    def train_step(self, data):
        images, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        batch = ops.shape(images)[0]
        for _ in range(self.d_steps - 1):  # extra D steps, each on fresh fakes
            self._discriminator_step(images, labels, self._fakes(batch, labels))
        step = self._alternating_step if self.update == "alternating" else self._simultaneous_step
        d_loss, g_loss, real_logits, fake_logits, g_grads = step(images, labels, batch)
        self._update_ema()

        values = {"d_loss": d_loss, "g_loss": g_loss,
                  "d_real": ops.mean(ops.sigmoid(real_logits)), "d_fake": ops.mean(ops.sigmoid(fake_logits))}
        if self.track_grad_norm:
            values["g_grad_norm"] = tf.linalg.global_norm(g_grads)
        for key, value in values.items():
            self._trackers[key].update_state(value)
        return {key: tracker.result() for key, tracker in self._trackers.items()}

    def _alternating_step(self, images, labels, batch):
        """Seed 004's step: D's gradient step on fixed fakes, then G's step against the new D."""
        with tf.GradientTape() as g_tape:
            fake = self._fakes(batch, labels)
            # Step 1: fix G, take a gradient step on D (G's weights are not touched).
            with g_tape.stop_recording():
                d_loss, real_logits, fake_logits = self._discriminator_step(images, labels, fake)
            # Step 2: fix D (now updated), take a gradient step on G through D's verdict on the
            # same fakes, as PyTorch's DCGAN tutorial does: one generator pass serves both steps.
            g_logits = self._d_logits(fake, labels)
            g_loss = generator_loss(g_logits, self.g_loss_kind)
        g_vars = self.generator.trainable_variables
        g_grads = g_tape.gradient(g_loss, g_vars)
        self.g_optimizer.apply_gradients(zip(g_grads, g_vars))
        return d_loss, g_loss, real_logits, fake_logits, g_grads

    def _simultaneous_step(self, images, labels, batch):
        """TensorFlow's tutorial step: one forward pass, both networks updated from it."""
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = self._fakes(batch, labels)
            real_logits, fake_logits = self._discriminator_logits(images, fake, labels)
            d_loss = self._discriminator_loss(images, labels, real_logits, fake_logits)
            g_loss = generator_loss(fake_logits, self.g_loss_kind)
        g_vars, d_vars = self.generator.trainable_variables, self.discriminator.trainable_variables
        g_grads = g_tape.gradient(g_loss, g_vars)
        d_grads = d_tape.gradient(d_loss, d_vars)
        self.g_optimizer.apply_gradients(zip(g_grads, g_vars))
        self.d_optimizer.apply_gradients(zip(d_grads, d_vars))
        return d_loss, g_loss, real_logits, fake_logits, g_grads

    def _discriminator_step(self, images, labels, fake):
        """One gradient step on D: real images towards 1, ``fake`` (held fixed) towards 0."""
        fake = ops.stop_gradient(fake)
        with tf.GradientTape() as tape:
            real_logits, fake_logits = self._discriminator_logits(images, fake, labels)
            d_loss = self._discriminator_loss(images, labels, real_logits, fake_logits)
        d_vars = self.discriminator.trainable_variables
        self.d_optimizer.apply_gradients(zip(tape.gradient(d_loss, d_vars), d_vars))
        return d_loss, real_logits, fake_logits

    def _discriminator_logits(self, images, fake, labels):
        """D's logits ``(batch, 1)`` for the real images and for the fakes, in two calls.

        Two calls rather than one on the concatenated batch: measured faster here, and a
        BatchNorm in D would otherwise mix real and fake statistics.
        """
        return self._d_logits(images, labels), self._d_logits(fake, labels)

    def _discriminator_loss(self, images, labels, real_logits, fake_logits):
        """D's loss; with ``mismatched_pairs``, real images under a wrong label count as fakes too."""
        if not self.mismatched_pairs:
            return discriminator_loss(real_logits, fake_logits, self.real_label)
        # A wrong label for every image: add 1..num_classes-1 to the true one, modulo num_classes.
        shift = keras.random.randint(ops.shape(labels), 1, self.num_classes, seed=self.seed_generator,
                                     dtype=labels.dtype)
        wrong_logits = self._d_logits(images, (labels + shift) % self.num_classes)
        negatives = ops.concatenate([fake_logits, wrong_logits], axis=0)  # half fakes, half mismatches
        return discriminator_loss(real_logits, negatives, self.real_label)

    def _d_logits(self, images, labels):
        """D's logits ``(batch, 1)`` for training, on augmented images when ``augment_shift`` is set."""
        images = augment.random_shift(images, self.augment_shift, self.seed_generator)
        return self.discriminator(self._d_inputs(images, labels), training=True)

    def _fakes(self, batch, labels):
        """G's images for a batch of fresh noise (and the batch's labels, if conditional)."""
        return self.generator(self._g_inputs(self._noise(batch), labels), training=True)

    def _noise(self, batch):
        return keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)

    def _g_inputs(self, z, labels):
        return [z, labels] if self.conditional else z

    def _d_inputs(self, images, labels):
        return [images, labels] if self.conditional else images

    def _update_ema(self):
        if self.ema_generator is None:
            return
        # Warm-up as in tf.train.ExponentialMovingAverage(num_updates): early on the average
        # forgets quickly, so that a short run does not average in its random initial weights.
        steps = ops.cast(self.g_optimizer.iterations, "float32")
        decay = ops.minimum(self.ema_decay, (1.0 + steps) / (10.0 + steps))
        for average, current in zip(self.ema_generator.weights, self.generator.weights):
            average.assign(decay * average + (1.0 - decay) * current)

    # -- training and sampling ---------------------------------------------------------------

    def fit(self, x=None, y=None, callbacks=None, **kwargs):
        """Keras's ``fit``, after checking the data, with a NaN guard always on.

        ``x`` is a ``tf.data.Dataset`` of image batches (or ``(images, labels)`` batches for a
        conditional GAN), as made by ``gan_utils.data.as_dataset``, or an image array.
        """
        self._check_training_data(x, y)
        if isinstance(x, tf.data.Dataset):
            kwargs.setdefault("shuffle", False)  # the dataset shuffles itself
        self._fit_steps_per_execution(kwargs.get("steps_per_epoch"))
        callbacks = list(callbacks or [])
        if not any(isinstance(c, StopOnNaN) for c in callbacks):
            callbacks.append(StopOnNaN())
        return super().fit(x, y, callbacks=callbacks, **kwargs)

    def _fit_steps_per_execution(self, steps_per_epoch):
        """Keras rounds an epoch up to whole executions; run exactly ``steps_per_epoch`` instead.

        With ``steps_per_execution=10`` and ``steps_per_epoch=3``, Keras would train 10 steps
        per epoch. The largest divisor of both is used instead (re-tracing the step if needed).
        """
        requested = getattr(self, "_requested_steps_per_execution", 1)
        wanted = math.gcd(int(steps_per_epoch), requested) if steps_per_epoch else requested
        if wanted != self.steps_per_execution:
            self.steps_per_execution = wanted
            self.train_function = None

    def noise(self, n: int, seed: int = 0) -> np.ndarray:
        """Fixed, reproducible noise ``(n, latent_dim)`` float32 from N(0, 1), drawn with NumPy."""
        return np.random.default_rng(seed).standard_normal((n, self.latent_dim)).astype(np.float32)

    def sample(self, n: int | None = None, labels=None, z=None, seed: int = 0, use_ema: bool = True,
               batch_size: int = 500) -> np.ndarray:
        """Generate images.

        Args:
            n: how many; may be omitted when ``z`` or an array of ``labels`` is given.
            labels: conditional GANs only: one int in 0..9 for all images, or an int array (n,).
            z: optional noise ``(n, latent_dim)``; by default ``noise(n, seed)``.
            use_ema: sample from the moving-average generator when there is one.

        Returns:
            float32 samples ``(n, *generator output shape)``, e.g. images ``(n, 28, 28, 1)``, in
            the generator's output range.
        """
        if z is None and n is None:
            n = len(np.atleast_1d(labels)) if labels is not None else None
            if n is None:
                raise ValueError("sample() needs n, z, or (for a conditional GAN) an array of labels.")
        z = self.noise(n, seed) if z is None else np.asarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (n, {self.latent_dim}), got {z.shape}.")
        labels = self.check_labels(labels, len(z))
        model = self.sampler if use_ema else self.generator
        inputs = [z, labels] if self.conditional else z
        return np.asarray(model.predict(inputs, batch_size=batch_size, verbose=0), dtype=np.float32)

    def check_labels(self, labels, n: int):
        """Validate labels for ``n`` images: None for an unconditional GAN, else int32 ``(n,)``."""
        if not self.conditional:
            if labels is not None:
                raise ValueError("This GAN is unconditional: its generator takes no labels. "
                                 "Call sample(n) without labels, or build a conditional generator.")
            return None
        if labels is None:
            raise ValueError(f"This GAN is conditional: pass labels, e.g. sample(n, labels=3) "
                             f"or an int array of shape ({n},) in 0..{self.num_classes - 1}.")
        return data.check_labels(labels, n, self.num_classes, broadcast=True).astype(np.int32)

    def save_generator(self, path) -> str:
        """Save the sampling generator as a plain ``.keras`` model (reload: ``keras.models.load_model``)."""
        path = str(path)
        if not path.endswith(".keras"):
            raise ValueError(f"save the generator to a .keras file, got {path!r}.")
        self.sampler.save(path)
        return path

    def _check_training_data(self, x, y):
        if isinstance(x, tf.data.Dataset):
            spec = x.element_spec
            image_spec, label_spec = (spec[0], spec[1]) if isinstance(spec, tuple) else (spec, None)
            image_shape, has_labels = tuple(image_spec.shape[1:]), label_spec is not None
        else:
            if x is None:
                raise ValueError("fit() needs data: a dataset from gan_utils.data.as_dataset, or images.")
            image_shape, has_labels = tuple(np.shape(x)[1:]), y is not None
        if image_shape != self.image_shape:
            raise ValueError(
                f"The training data has shape (batch, {', '.join(map(str, image_shape))}) but the "
                f"discriminator expects (batch, {', '.join(map(str, self.image_shape))}). Reshape the "
                f"data (MNIST from gan_utils.data.load_mnist is (N, 28, 28, 1)) or build models for it."
            )
        if has_labels and not self.conditional:
            raise ValueError("The data has labels but this GAN is unconditional: use "
                             "as_dataset(images) without labels, or build a conditional generator.")
        if self.conditional and not has_labels:
            raise ValueError("This GAN is conditional and needs labels: use as_dataset(images, labels).")


def _check_pair(generator, discriminator):
    if not isinstance(generator, keras.Model) or not isinstance(discriminator, keras.Model):
        raise ValueError("generator and discriminator must be keras.Model objects (see gan_utils.models).")
    if len(generator.inputs) != len(discriminator.inputs) or len(generator.inputs) not in (1, 2):
        raise ValueError(
            f"generator takes {len(generator.inputs)} inputs and discriminator {len(discriminator.inputs)}: "
            "both take one (unconditional) or both take two, [noise or image, labels] (conditional)."
        )
    g_out = tuple(generator.outputs[0].shape[1:])
    d_in = tuple(discriminator.inputs[0].shape[1:])
    if g_out != d_in:
        raise ValueError(f"generator makes images of shape {g_out} but the discriminator takes {d_in}.")
    if tuple(discriminator.outputs[0].shape[1:]) != (1,):
        raise ValueError("the discriminator must output one logit per image, shape (batch, 1).")


def _num_classes(generator) -> int:
    for layer in generator.layers:
        if isinstance(layer, keras.layers.CategoryEncoding):
            return int(layer.num_tokens)
        if isinstance(layer, keras.layers.Embedding):
            return int(layer.input_dim)
    raise ValueError("cannot tell how many classes the conditional generator knows: "
                     "it needs a CategoryEncoding or Embedding layer on its label input.")
