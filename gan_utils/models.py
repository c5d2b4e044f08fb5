"""Builders for the series' generators and discriminators, fixed for Keras 3.

Every builder is a function that returns a plain functional ``keras.Model``: no training
state lives here (that is ``gan_utils.training``'s job), and each model saves to and reloads
from ``.keras`` with ``keras.models.load_model``.

Conventions shared by every model:

* a generator maps noise ``z`` of shape ``(batch, latent_dim)`` (and, if conditional, int
  labels ``(batch,)`` in 0..9) to images ``(batch, 28, 28, 1)``, in [0, 1] after a sigmoid
  output or in [-1, 1] after tanh;
* a discriminator maps images ``(batch, 28, 28, 1)`` (and labels) to one **logit** per image,
  shape ``(batch, 1)``: D(x) is ``sigmoid(logit)``. Losses use logits because
  ``log(sigmoid(.))`` computed in one step is numerically stable.

Notebook 1's toy models are the exception: they work on 1-D numbers, ``(batch, 1)``, instead of
images (``mlp_generator_1d``, ``mlp_discriminator_1d``, and ``discriminator_curve`` to read D
off a grid), and notebook 5's, which work on points of the plane, ``(batch, 2)``
(``mlp_generator_2d``, ``mlp_discriminator_2d``).
"""

from __future__ import annotations

from .backend import require_tensorflow

require_tensorflow()

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

from .toy import as_grid  # noqa: E402

IMAGE_SHAPE = (28, 28, 1)
LABEL_SCHEMES = ("onehot", "embedding")
# Base width b of each named DCGAN size. "gpu" is four times the classroom width: its 7x7 layer has the
# 256 channels of TensorFlow's DCGAN tutorial, but its other layers differ from the tutorial's (see dcgan_generator).
DCGAN_SIZES = {"classroom": 16, "gpu": 64}


# --------------------------------------------------------------------------------------------
# MLPs (Seungchul Lee's lecture notes; the Keras-GAN style introductions)
# --------------------------------------------------------------------------------------------

def mlp_generator(latent_dim: int = 100, hidden: int = 256, name: str = "mlp_generator") -> keras.Model:
    """The generator of Seungchul Lee's GAN lecture notes (KAIST): ``z (batch, latent_dim) -> Dense(hidden, relu) -> Dense(784, sigmoid)``.

    Returns:
        A model with output ``(batch, 28, 28, 1)`` in [0, 1].
    """
    z = keras.Input((latent_dim,), name="z")
    h = layers.Dense(hidden, activation="relu")(z)
    x = layers.Dense(784, activation="sigmoid")(h)
    return keras.Model(z, layers.Reshape(IMAGE_SHAPE)(x), name=name)


def mlp_discriminator(hidden: int = 256, name: str = "mlp_discriminator") -> keras.Model:
    """The discriminator of Seungchul Lee's GAN lecture notes (KAIST): ``image (batch, 28, 28, 1) -> Dense(hidden, relu) -> logit (batch, 1)``."""
    x = keras.Input(IMAGE_SHAPE, name="image")
    h = layers.Dense(hidden, activation="relu")(layers.Flatten()(x))
    return keras.Model(x, layers.Dense(1, name="logit")(h), name=name)


def bn_mlp_generator(latent_dim: int = 100, widths=(256, 512, 1024), name: str = "bn_mlp_generator") -> keras.Model:
    """The deeper generator of the Keras-GAN style introductions: Dense -> LeakyReLU(0.2) -> BatchNorm, three times.

    ``BatchNormalization(momentum=0.8)`` is what the Keras-GAN style introductions mean; the PyTorch introduction's
    ``BatchNorm1d(n, 0.8)`` sets epsilon instead, a bug not copied here.

    Returns:
        A model ``z (batch, latent_dim) -> (batch, 28, 28, 1)`` in [-1, 1] (tanh).
    """
    z = keras.Input((latent_dim,), name="z")
    h = z
    for i, width in enumerate(widths):
        h = layers.Dense(width)(h)
        h = layers.LeakyReLU(0.2)(h)
        if i > 0:  # as in those introductions, the first layer has no BatchNorm
            h = layers.BatchNormalization(momentum=0.8)(h)
    x = layers.Dense(784, activation="tanh")(h)
    return keras.Model(z, layers.Reshape(IMAGE_SHAPE)(x), name=name)


def bn_mlp_discriminator(widths=(512, 256), name: str = "bn_mlp_discriminator") -> keras.Model:
    """The deeper discriminator of the Keras-GAN style introductions: ``784 -> 512 -> 256 -> logit``, LeakyReLU(0.2)."""
    x = keras.Input(IMAGE_SHAPE, name="image")
    h = layers.Flatten()(x)
    for width in widths:
        h = layers.LeakyReLU(0.2)(layers.Dense(width)(h))
    return keras.Model(x, layers.Dense(1, name="logit")(h), name=name)


# --------------------------------------------------------------------------------------------
# DCGAN (Radford, Metz & Chintala 2015)
# --------------------------------------------------------------------------------------------

def dcgan_generator(latent_dim: int = 100, size="classroom", hidden: int | None = 256, refine: bool = True,
                    name: str = "dcgan_generator") -> keras.Model:
    """A DCGAN generator: ``z -> Dense(7*7*4b) -> 7x7 -> 14x14 -> 28x28`` with transposed convs.

    Args:
        latent_dim: length of the noise vector z.
        size: "classroom" (base width b=16, sized for a 2-core CPU), "gpu" (b=64), or an int b.
            At b=64 the 7x7 layer has the 256 channels of TensorFlow's DCGAN tutorial; the
            tutorial then narrows to 128 and 64 channels with 5x5 kernels, where this body
            keeps 4b and 2b channels with 4x4 kernels on the upsampling layers.
        hidden: width of a hidden dense layer between z and the 7x7 projection (None: none):
            cheap depth for a small generator (``benchmarks/README.md`` logs what it buys).
        refine: add a stride-1 5x5 transposed convolution at 7x7, as in TensorFlow's tutorial.

    Returns:
        A model ``z (batch, latent_dim) -> (batch, 28, 28, 1)`` in [-1, 1] (tanh).
        Layer by layer: [(hidden,)] -> (7, 7, 4b) [-> (7, 7, 4b)] -> (14, 14, 2b) -> (28, 28, 1).
    """
    z = keras.Input((latent_dim,), name="z")
    body = _dcgan_generator_body(z, z, _width(size), name, hidden=hidden, refine=refine)
    return body


def dcgan_discriminator(size="classroom", dropout: float = 0.0, spectral_norm: bool = False,
                        name: str = "dcgan_discriminator") -> keras.Model:
    """A DCGAN discriminator: strided convolutions, LeakyReLU(0.2), no pooling.

    Layer by layer: ``(28, 28, 1) -> (14, 14, 2b) -> (7, 7, 4b) -> logit (batch, 1)``,
    with b the base width of ``size`` ("classroom": 16, "gpu": 64, or an int).
    ``dropout`` after each convolution (TensorFlow's tutorial uses 0.3): off by default, as the
    classroom recipe is measured without it (``benchmarks/README.md``).
    ``spectral_norm`` wraps every convolution and the dense layer in
    ``keras.layers.SpectralNormalization`` (Miyato et al. 2018): each weight matrix is divided
    by an estimate of its largest singular value (one power iteration per training step), so
    that no layer stretches its input by much more than a factor 1 and D's slope stays near 1
    or below. For a convolution the kernel is normalised as a matrix, which bounds the layer's
    slope only approximately.
    """
    x = keras.Input(IMAGE_SHAPE, name="image")
    return _dcgan_discriminator_body(x, x, _width(size), dropout, name, spectral_norm)


def _dcgan_generator_body(inputs, h, b, name, hidden=None, refine=False):
    if hidden:
        h = layers.ReLU()(layers.BatchNormalization()(layers.Dense(hidden, use_bias=False)(h)))
    h = layers.Dense(7 * 7 * 4 * b, use_bias=False)(h)
    h = layers.ReLU()(layers.BatchNormalization()(h))
    h = layers.Reshape((7, 7, 4 * b))(h)
    if refine:
        h = layers.Conv2DTranspose(4 * b, 5, strides=1, padding="same", use_bias=False)(h)
        h = layers.ReLU()(layers.BatchNormalization()(h))
    h = layers.Conv2DTranspose(2 * b, 4, strides=2, padding="same", use_bias=False)(h)
    h = layers.ReLU()(layers.BatchNormalization()(h))
    x = layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="tanh")(h)
    return keras.Model(inputs, x, name=name)


def _dcgan_discriminator_body(inputs, h, b, dropout, name, spectral_norm=False):
    sn = _normaliser(spectral_norm)
    h = layers.LeakyReLU(0.2)(sn(layers.Conv2D(2 * b, 4, strides=2, padding="same"))(h))
    h = layers.Dropout(dropout)(h) if dropout else h
    h = layers.LeakyReLU(0.2)(sn(layers.Conv2D(4 * b, 4, strides=2, padding="same"))(h))
    h = layers.Dropout(dropout)(h) if dropout else h
    logit = sn(layers.Dense(1, name="logit"))(layers.Flatten()(h))
    return keras.Model(inputs, logit, name=name)


def _normaliser(spectral_norm: bool):
    """A function that wraps a layer in Keras's SpectralNormalization (one power iteration per
    training call), or leaves it as it is."""
    if not spectral_norm:
        return lambda layer: layer
    return lambda layer: layers.SpectralNormalization(layer, power_iterations=1, name=f"sn_{layer.name}")


# --------------------------------------------------------------------------------------------
# Conditional models (Mirza & Osindero 2014)
# --------------------------------------------------------------------------------------------

def conditional_mlp_generator(latent_dim: int = 100, num_classes: int = 10, label_scheme: str = "onehot",
                              hidden: int = 256, name: str = "cmlp_generator") -> keras.Model:
    """A conditional MLP generator G(z, y).

    label_scheme:
        "onehot" (Lee's notes): ``concat(z, one_hot(y)) -> Dense(hidden, relu) -> Dense(784, sigmoid)``.
        "embedding" (the CGAN learning record): ``z * Embedding(y)`` (the label scales each noise dimension),
        then the same MLP.

    Returns:
        A model ``[z (batch, latent_dim), y (batch,) int] -> (batch, 28, 28, 1)`` in [0, 1].
    """
    z, y = keras.Input((latent_dim,), name="z"), keras.Input((), dtype="int32", name="label")
    h = _condition_vector(z, y, num_classes, label_scheme, latent_dim)
    h = layers.Dense(hidden, activation="relu")(h)
    x = layers.Reshape(IMAGE_SHAPE)(layers.Dense(784, activation="sigmoid")(h))
    return keras.Model([z, y], x, name=name)


def conditional_mlp_discriminator(num_classes: int = 10, label_scheme: str = "onehot", hidden: int = 256,
                                  name: str = "cmlp_discriminator") -> keras.Model:
    """A conditional MLP discriminator D(x, y) -> logit ``(batch, 1)``.

    "onehot" (Lee's notes): ``concat(flatten(x), one_hot(y))``, 784 + 10 = 794 inputs, then
    ``Dense(hidden, relu) -> Dense(1)``. "embedding" (the CGAN learning record): y is embedded
    as a 28x28 map and stacked onto the image as a second channel, 2 x 784 = 1,568 inputs.
    """
    x, y = keras.Input(IMAGE_SHAPE, name="image"), keras.Input((), dtype="int32", name="label")
    if label_scheme == "onehot":
        h = layers.Concatenate()([layers.Flatten()(x), _one_hot(y, num_classes)])
    else:
        h = layers.Flatten()(_condition_image(x, y, num_classes, label_scheme))
    h = layers.Dense(hidden, activation="relu")(h)
    return keras.Model([x, y], layers.Dense(1, name="logit")(h), name=name)


def conditional_dcgan_generator(latent_dim: int = 100, num_classes: int = 10, label_scheme: str = "onehot",
                                size="classroom", name: str = "cdcgan_generator") -> keras.Model:
    """A conditional DCGAN generator: the label joins z (concatenated one-hot, or an embedding
    multiplied in), then the DCGAN generator body. The body is the plain one, without
    ``dcgan_generator``'s ``hidden`` and ``refine`` layers: notebook 4's recipe was measured so.

    Returns:
        A model ``[z (batch, latent_dim), y (batch,) int] -> (batch, 28, 28, 1)`` in [-1, 1].
    """
    z, y = keras.Input((latent_dim,), name="z"), keras.Input((), dtype="int32", name="label")
    h = _condition_vector(z, y, num_classes, label_scheme, latent_dim)
    return _dcgan_generator_body([z, y], h, _width(size), name)


def conditional_dcgan_discriminator(num_classes: int = 10, label_scheme: str = "onehot", size="classroom",
                                    dropout: float = 0.3, name: str = "cdcgan_discriminator") -> keras.Model:
    """A conditional DCGAN discriminator D(x, y) -> logit ``(batch, 1)``.

    The label enters as extra image channels: the one-hot vector tiled to ``(28, 28, 10)``
    ("onehot"), or a learned 28x28 embedding map ("embedding").
    """
    x, y = keras.Input(IMAGE_SHAPE, name="image"), keras.Input((), dtype="int32", name="label")
    h = _condition_image(x, y, num_classes, label_scheme)
    return _dcgan_discriminator_body([x, y], h, _width(size), dropout, name)


def soft_label_generator(generator: keras.Model) -> keras.Model:
    """The same conditional generator, but taking the label as a one-hot *vector*.

    A one-hot label can then be blended, e.g. ``0.5 * one_hot(3) + 0.5 * one_hot(8)``, to
    interpolate between classes. It works on a copy of ``generator`` (same weights at the time
    of the call), so that the original keeps a graph that saves and reloads cleanly.

    Returns:
        A model ``[z (batch, latent_dim), y (batch, num_classes) float] -> images``.

    Raises:
        ValueError: for a generator without a one-hot label input (the "embedding" scheme
            looks labels up in a table, which cannot be blended this way).
    """
    if len(generator.inputs) != 2 or not any(isinstance(x, layers.CategoryEncoding) for x in generator.layers):
        raise ValueError("soft labels need a conditional generator built with label_scheme='onehot'.")
    copy = keras.models.clone_model(generator)
    copy.set_weights(generator.get_weights())
    encoder = next(layer for layer in copy.layers if isinstance(layer, layers.CategoryEncoding))
    return keras.Model([copy.inputs[0], encoder.output], copy.output, name=f"{generator.name}_soft")


# --------------------------------------------------------------------------------------------
# 1-D toy models (notebook 1): numbers (batch, 1) instead of images
# --------------------------------------------------------------------------------------------

def mlp_generator_1d(latent_dim: int = 1, hidden: int = 64, depth: int = 2, skip: bool = True,
                     offset: float = 0.0, name: str = "toy_generator") -> keras.Model:
    """A small MLP generator ``z (batch, latent_dim) -> x (batch, 1)``, linear (unbounded) output.

    Args:
        latent_dim: length of the noise vector; 1 lets you plot the whole map ``z -> G(z)``.
        hidden, depth: ``depth`` Dense layers of ``hidden`` LeakyReLU units.
        skip: add the noise to the output, ``G(z) = z + f(z)`` (needs ``latent_dim=1``). An
            untrained MLP squeezes N(0, 1) into a narrow spike; with the skip, G starts near the
            identity, so its samples start spread over the data instead of on one side of it.
        offset: the initial bias of the output layer, which shifts the untrained generator's
            samples by this much (0 is Keras's default; notebook 1 shifts it to force mode collapse).

    Returns:
        A ``keras.Model`` with output shape ``(None, 1)``.
    """
    if not isinstance(latent_dim, int) or latent_dim < 1:
        raise ValueError(f"latent_dim must be a positive integer, got {latent_dim!r}.")
    if skip and latent_dim != 1:
        raise ValueError(f"skip=True adds the noise z to the output, so it needs latent_dim=1, got "
                         f"latent_dim={latent_dim}. Pass skip=False for longer noise vectors.")
    z = keras.Input((latent_dim,), name="z")
    h = z
    for _ in range(depth):
        h = layers.Dense(hidden, activation="leaky_relu")(h)
    out = layers.Dense(1, name="f", bias_initializer=keras.initializers.Constant(float(offset)))(h)
    if skip:
        out = layers.Add(name="x")([z, out])
    return keras.Model(z, out, name=name)


def mlp_discriminator_1d(hidden: int = 128, depth: int = 2, name: str = "toy_discriminator") -> keras.Model:
    """A small MLP discriminator ``x (batch, 1) -> logit (batch, 1)``; ``D(x) = sigmoid(logit)`` in (0, 1).

    ``depth`` Dense layers of ``hidden`` LeakyReLU units, then one linear unit (the logit).
    """
    x = keras.Input((1,), name="x")
    h = x
    for _ in range(depth):
        h = layers.Dense(hidden, activation="leaky_relu")(h)
    return keras.Model(x, layers.Dense(1, name="logit")(h), name=name)


# --------------------------------------------------------------------------------------------
# 2-D toy models (notebook 5): points (batch, 2)
# --------------------------------------------------------------------------------------------

def mlp_generator_2d(latent_dim: int = 16, hidden: int = 128, depth: int = 3,
                     name: str = "toy2d_generator") -> keras.Model:
    """An MLP generator ``z (batch, latent_dim) -> point (batch, 2)``, linear (unbounded) output.

    ``depth`` Dense layers of ``hidden`` ReLU units, then a linear layer to the plane.
    """
    z = keras.Input((latent_dim,), name="z")
    h = z
    for _ in range(depth):
        h = layers.Dense(hidden, activation="relu")(h)
    return keras.Model(z, layers.Dense(2, name="point")(h), name=name)


def mlp_discriminator_2d(hidden: int = 128, depth: int = 3, spectral_norm: bool = False,
                         name: str = "toy2d_discriminator") -> keras.Model:
    """An MLP discriminator (or critic) ``point (batch, 2) -> score (batch, 1)``.

    ``depth`` Dense layers of ``hidden`` LeakyReLU(0.2) units, then one linear unit: a logit
    for the "bce" game, a raw score for "hinge" and "wasserstein". ``spectral_norm`` wraps
    every Dense layer in ``keras.layers.SpectralNormalization`` (see ``dcgan_discriminator``).
    """
    sn = _normaliser(spectral_norm)
    x = keras.Input((2,), name="point")
    h = x
    for i in range(depth):
        h = layers.LeakyReLU(0.2)(sn(layers.Dense(hidden, name=f"dense_{i}"))(h))
    return keras.Model(x, sn(layers.Dense(1, name="score"))(h), name=name)


def discriminator_curve(discriminator: keras.Model, grid) -> np.ndarray:
    """``D(x) = sigmoid(logit(x))`` at every grid point: float64 ``(m,)`` in (0, 1)."""
    grid = as_grid(grid)
    logits = np.asarray(discriminator(grid[:, None].astype(np.float32), training=False), dtype=np.float64)
    return 1.0 / (1.0 + np.exp(-logits[:, 0]))


def output_range(generator: keras.Model) -> str | None:
    """The range of a generator's outputs, read from its last activation.

    Returns:
        "tanh" (outputs in [-1, 1]), "sigmoid" (in [0, 1]), or None for a linear, unbounded
        output (the 1-D and 2-D toy generators). Layers without an activation that only
        reshape (``Reshape``, ``Flatten``) are looked through.
    """
    for layer in reversed(generator.layers):
        if isinstance(layer, (layers.Reshape, layers.Flatten, layers.InputLayer)):
            continue
        activation = getattr(getattr(layer, "activation", None), "__name__", None)
        return activation if activation in ("tanh", "sigmoid") else None
    return None


def run_in_batches(model: keras.Model, inputs, batch_size: int = 500):
    """Run ``model`` in inference mode, one batch at a time, without ``model.predict``.

    Inference mode means BatchNorm uses its moving averages and dropout is off, as in ``predict``.
    ``predict`` compiles a ``tf.function`` for each model and traces it again for each new batch
    shape (a last, smaller batch is one); a notebook that samples from several models at several
    sizes then prints TensorFlow's "triggered tf.function retracing" warning, which is harmless
    but alarming. Called directly (eagerly), a model traces nothing; for the series' small
    networks this is as fast as ``predict``.

    Args:
        inputs: one array ``(n, ...)``, or a list of arrays with the same first dimension (for
            example ``[z, labels]`` for a conditional generator).

    Returns:
        float32 NumPy outputs ``(n, ...)``; a list of them if the model has several outputs.
    """
    parts = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    n = len(parts[0])
    if any(len(part) != n for part in parts):
        raise ValueError(f"inputs must all have the same length, got {[len(part) for part in parts]}.")
    chunks = []
    for start in range(0, n, batch_size):
        batch = [part[start:start + batch_size] for part in parts]
        out = model(batch if len(batch) > 1 else batch[0], training=False)
        chunks.append([np.asarray(o, dtype=np.float32) for o in (out if isinstance(out, (list, tuple)) else [out])])
    if not chunks:
        raise ValueError("inputs are empty: there is nothing to run the model on.")
    joined = [np.concatenate([chunk[i] for chunk in chunks]) for i in range(len(chunks[0]))]
    return joined if len(joined) > 1 else joined[0]


def _one_hot(y, num_classes):
    return layers.CategoryEncoding(num_tokens=num_classes, output_mode="one_hot")(y)


def _condition_vector(z, y, num_classes, label_scheme, latent_dim):
    _check_scheme(label_scheme)
    if label_scheme == "onehot":
        return layers.Concatenate()([z, _one_hot(y, num_classes)])
    return layers.Multiply()([z, layers.Embedding(num_classes, latent_dim)(y)])


def _condition_image(x, y, num_classes, label_scheme):
    """The image with the label appended as channels: (28, 28, 1 + 10) or (28, 28, 2)."""
    _check_scheme(label_scheme)
    if label_scheme == "onehot":
        tiled = layers.UpSampling2D(size=IMAGE_SHAPE[:2])(layers.Reshape((1, 1, num_classes))(_one_hot(y, num_classes)))
    else:
        tiled = layers.Reshape(IMAGE_SHAPE)(layers.Embedding(num_classes, 28 * 28)(y))
    return layers.Concatenate(axis=-1)([x, tiled])


def _check_scheme(label_scheme):
    if label_scheme not in LABEL_SCHEMES:
        raise ValueError(f"label_scheme must be one of {LABEL_SCHEMES}, got {label_scheme!r}.")


def _width(size) -> int:
    if isinstance(size, int) and not isinstance(size, bool) and size > 0:
        return size
    if size in DCGAN_SIZES:
        return DCGAN_SIZES[size]
    raise ValueError(f"size must be one of {sorted(DCGAN_SIZES)} or a positive int, got {size!r}.")
