"""The builders: every model's size, counted by hand from its layers, and its output range.

A weight count is the cheapest check that a builder builds what its docstring says: a label
fed in twice, a layer too many or a wrong width all change it.
"""

import pytest

from gan_utils import models


def dense(inputs, units, bias=True):
    return inputs * units + (units if bias else 0)


def conv(kernel, channels_in, channels_out, bias=True):
    return kernel * kernel * channels_in * channels_out + (channels_out if bias else 0)


def batchnorm(units):
    return 4 * units  # gamma, beta, moving mean, moving variance


def embedding(classes, size):
    return classes * size


B = 16  # the classroom DCGAN's base width
PROJECTED = 7 * 7 * 4 * B  # the 7x7 layer, flattened

CASES = {
    "mlp_generator": (models.mlp_generator, {}, dense(100, 256) + dense(256, 784)),
    "mlp_discriminator": (models.mlp_discriminator, {}, dense(784, 256) + dense(256, 1)),
    "bn_mlp_generator": (models.bn_mlp_generator, {},
                         dense(100, 256) + dense(256, 512) + batchnorm(512) + dense(512, 1024) + batchnorm(1024)
                         + dense(1024, 784)),
    "bn_mlp_discriminator": (models.bn_mlp_discriminator, {}, dense(784, 512) + dense(512, 256) + dense(256, 1)),
    "dcgan_generator": (models.dcgan_generator, {},
                        dense(100, 256, bias=False) + batchnorm(256) + dense(256, PROJECTED, bias=False)
                        + batchnorm(PROJECTED) + conv(5, 4 * B, 4 * B, bias=False) + batchnorm(4 * B)
                        + conv(4, 4 * B, 2 * B, bias=False) + batchnorm(2 * B) + conv(4, 2 * B, 1)),
    "dcgan_generator_plain": (models.dcgan_generator, {"hidden": None, "refine": False},
                              dense(100, PROJECTED, bias=False) + batchnorm(PROJECTED)
                              + conv(4, 4 * B, 2 * B, bias=False) + batchnorm(2 * B) + conv(4, 2 * B, 1)),
    "dcgan_generator_gpu": (models.dcgan_generator, {"size": "gpu", "hidden": None, "refine": False},
                            dense(100, 7 * 7 * 256, bias=False) + batchnorm(7 * 7 * 256)
                            + conv(4, 256, 128, bias=False) + batchnorm(128) + conv(4, 128, 1)),
    "dcgan_discriminator": (models.dcgan_discriminator, {},
                            conv(4, 1, 2 * B) + conv(4, 2 * B, 4 * B) + dense(PROJECTED, 1)),
    "cmlp_generator_onehot": (models.conditional_mlp_generator, {}, dense(110, 256) + dense(256, 784)),
    "cmlp_generator_embedding": (models.conditional_mlp_generator, {"label_scheme": "embedding"},
                                 embedding(10, 100) + dense(100, 256) + dense(256, 784)),
    # Lee's notes: 784 pixels and the 10-long one-hot label, 794 inputs, 203,777 weights.
    "cmlp_discriminator_onehot": (models.conditional_mlp_discriminator, {}, dense(794, 256) + dense(256, 1)),
    "cmlp_discriminator_embedding": (models.conditional_mlp_discriminator, {"label_scheme": "embedding"},
                                     embedding(10, 784) + dense(2 * 784, 256) + dense(256, 1)),
    "cdcgan_generator_onehot": (models.conditional_dcgan_generator, {},
                                dense(110, PROJECTED, bias=False) + batchnorm(PROJECTED)
                                + conv(4, 4 * B, 2 * B, bias=False) + batchnorm(2 * B) + conv(4, 2 * B, 1)),
    "cdcgan_generator_embedding": (models.conditional_dcgan_generator, {"label_scheme": "embedding"},
                                   embedding(10, 100) + dense(100, PROJECTED, bias=False) + batchnorm(PROJECTED)
                                   + conv(4, 4 * B, 2 * B, bias=False) + batchnorm(2 * B) + conv(4, 2 * B, 1)),
    "cdcgan_discriminator_onehot": (models.conditional_dcgan_discriminator, {},
                                    conv(4, 1 + 10, 2 * B) + conv(4, 2 * B, 4 * B) + dense(PROJECTED, 1)),
    "cdcgan_discriminator_embedding": (models.conditional_dcgan_discriminator, {"label_scheme": "embedding"},
                                       embedding(10, 784) + conv(4, 2, 2 * B) + conv(4, 2 * B, 4 * B)
                                       + dense(PROJECTED, 1)),
    "generator_1d": (models.mlp_generator_1d, {}, dense(1, 64) + dense(64, 64) + dense(64, 1)),
    "discriminator_1d": (models.mlp_discriminator_1d, {}, dense(1, 128) + dense(128, 128) + dense(128, 1)),
    "generator_2d": (models.mlp_generator_2d, {}, dense(16, 128) + 2 * dense(128, 128) + dense(128, 2)),
    "discriminator_2d": (models.mlp_discriminator_2d, {}, dense(2, 128) + 2 * dense(128, 128) + dense(128, 1)),
    # Spectral normalisation adds one power-iteration vector per layer, of the layer's output width.
    "discriminator_2d_spectral": (models.mlp_discriminator_2d, {"spectral_norm": True},
                                  dense(2, 128) + 2 * dense(128, 128) + dense(128, 1) + 3 * 128 + 1),
    "dcgan_discriminator_spectral": (models.dcgan_discriminator, {"spectral_norm": True},
                                     conv(4, 1, 2 * B) + conv(4, 2 * B, 4 * B) + dense(PROJECTED, 1)
                                     + 2 * B + 4 * B + 1),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_builder_has_the_weights_counted_by_hand(name):
    builder, kwargs, expected = CASES[name]
    assert builder(**kwargs).count_params() == expected


def test_the_one_hot_mlp_discriminator_sees_the_label_once():
    d = models.conditional_mlp_discriminator()
    first_dense = next(layer for layer in d.layers if layer.__class__.__name__ == "Dense")
    assert first_dense.kernel.shape == (794, 256)


@pytest.mark.parametrize("builder, expected", [
    (models.mlp_generator, "sigmoid"),
    (models.bn_mlp_generator, "tanh"),
    (models.dcgan_generator, "tanh"),
    (models.conditional_mlp_generator, "sigmoid"),
    (models.conditional_dcgan_generator, "tanh"),
    (models.mlp_generator_1d, None),
    (models.mlp_generator_2d, None),
])
def test_output_range_is_read_from_the_last_activation(builder, expected):
    assert models.output_range(builder()) == expected
