import matplotlib

matplotlib.use("Agg")  # unit tests stay headless; the nbval run exercises inline display

import numpy as np
import pytest
from matplotlib.figure import Figure

from gan_utils import plotting, toy, toy2d

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TWO = toy.mixture([-2.0, 2.0], 0.5)


def test_image_grid_geometry_titles_and_png(tmp_path):
    images = np.linspace(-1, 1, 12 * 28 * 28, dtype=np.float32).reshape(12, 28, 28, 1)
    path = tmp_path / "grid.png"
    fig = plotting.image_grid(images, value_range="tanh", titles=[f"Digit: {i % 10}" for i in range(12)], ncols=5,
                              path=path)
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    axes = fig.axes
    assert len(axes) == 15  # 3 rows of 5
    assert {ax.get_subplotspec().get_geometry()[:2] for ax in axes} == {(3, 5)}
    assert axes[3].get_title() == "Digit: 3"
    assert len(axes[12].images) == 0 and len(axes[11].images) == 1  # blank filler cells


def test_image_grid_accepts_flat_and_sigmoid_images():
    fig = plotting.image_grid(np.ones((4, 784)), value_range="sigmoid")
    assert len(fig.axes) == 4
    shown = fig.axes[0].images[0].get_array()
    assert shown.shape == (28, 28) and float(shown.max()) == 1.0


def test_image_grid_errors():
    with pytest.raises(ValueError, match="images must be a non-empty numeric batch"):
        plotting.image_grid(np.zeros((3, 5)), value_range="sigmoid")
    with pytest.raises(ValueError, match="titles has 1 entries for 2 images"):
        plotting.image_grid(np.zeros((2, 28, 28)), value_range="sigmoid", titles=["a"])
    with pytest.raises(TypeError, match="value_range"):
        plotting.image_grid(np.zeros((2, 28, 28)))  # no default range: the caller must say which
    with pytest.raises(ValueError, match="value_range must be one of"):
        plotting.image_grid(np.zeros((2, 28, 28)), value_range="unit")


def test_plot_history_panels_and_png(tmp_path):
    history = {"d_loss": [1.4, 1.2], "g_loss": [0.7, 0.9], "d_real": [0.6, 0.7], "d_fake": [0.4, 0.3]}
    path = tmp_path / "history.png"
    fig = plotting.plot_history(history, path=path)
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    loss_ax, prob_ax = fig.axes
    assert len(loss_ax.lines) == 3 and len(prob_ax.lines) == 3  # two curves plus a reference line
    assert prob_ax.get_ylim() == (0.0, 1.0)


def test_critic_scores_get_their_own_panel_without_the_cross_entropy_references():
    history = {"d_loss": [-3.0, -5.0], "g_loss": [2.0, 4.0], "score_real": [3.0, 6.0], "score_fake": [-1.0, -2.0]}
    fig = plotting.plot_history(history)
    loss_ax, score_ax = fig.axes
    labels = [line.get_label() for ax in fig.axes for line in ax.lines]
    assert not any("equilibrium" in label or "log 2" in label for label in labels), labels
    assert "not a probability" in score_ax.get_ylabel()
    assert score_ax.get_ylim() != (0.0, 1.0)


def test_a_hinge_gan_logs_raw_scores_not_probabilities(twos):
    from gan_utils import data, models, training

    gan = training.GAN(models.mlp_generator(hidden=16), models.mlp_discriminator(hidden=16), loss="hinge")
    gan.compile(steps_per_execution=1)
    first_batch = twos[:64]
    raw = float(np.mean(gan.discriminator(first_batch)))  # D's raw scores before its first update
    history = gan.fit(data.as_dataset(twos, batch_size=64, shuffle=False), epochs=1, steps_per_epoch=1, verbose=0).history
    assert {"score_real", "score_fake"} <= set(history) and "d_real" not in history
    assert history["score_real"][0] == pytest.approx(raw, rel=1e-4, abs=1e-5)  # the score itself, no sigmoid


def test_plot_history_errors():
    with pytest.raises(ValueError, match="history is empty"):
        plotting.plot_history({})
    with pytest.raises(ValueError, match=r"no curves \['nope'\]"):
        plotting.plot_history({"d_loss": [1.0]}, keys=["nope"])


def test_compare_curves_one_panel_per_key_one_line_per_run():
    runs = {"a": {"g_loss": [1, 2], "d_fake": [0.1, 0.2]}, "b": {"g_loss": [2, 1], "d_fake": [0.3, 0.2]}}
    fig = plotting.compare_curves(runs, ["g_loss", "d_fake"])
    assert len(fig.axes) == 2 and all(len(ax.lines) == 2 for ax in fig.axes)
    with pytest.raises(ValueError, match=r"run 'a' has no curves \['nope'\]"):
        plotting.compare_curves(runs, "nope")


def test_bar_chart_bars_and_reference(tmp_path):
    fig = plotting.bar_chart(np.full(10, 0.1), reference=0.1, path=tmp_path / "bars.png")
    assert (tmp_path / "bars.png").read_bytes()[:8] == PNG_SIGNATURE
    ax = fig.axes[0]
    assert len(ax.patches) == 10 and len(ax.lines) == 1
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(i) for i in range(10)]
    per_digit = plotting.bar_chart([0.9, 1.0], labels=["a", "b"], reference=[0.95, 0.97])
    assert len(per_digit.axes[0].lines) == 1 and len(per_digit.axes[0].lines[0].get_xdata()) == 2
    with pytest.raises(ValueError, match="labels has 1 entries for 2 values"):
        plotting.bar_chart([1, 2], labels=["a"])


# -- notebook 1's 1-D density plots ----------------------------------------------------------------

def _snapshot(epoch, grid):
    p_g = toy.normal_pdf(grid, 0.0, 1.0)
    p = TWO.pdf(grid)
    d_star = toy.optimal_discriminator(p, p_g)
    return toy.Snapshot(epoch, np.random.default_rng(0).normal(size=300).astype(np.float32), p_g,
                        np.full(grid.shape, 0.5), d_star, toy.js_divergence(p, p_g, grid), 0.1)


def test_plot_helpers_return_figures_and_save_pngs(tmp_path):
    grid = toy.make_grid(-6, 6, 121)
    p = TWO.pdf(grid)
    fig = plotting.plot_density_fits(grid, p, {"N(0, 1)": toy.normal_pdf(grid)}, samples=TWO.sample(200),
                                     path=tmp_path / "fits.png")
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    assert (tmp_path / "fits.png").read_bytes()[:8] == PNG_SIGNATURE

    fig = plotting.plot_snapshots([_snapshot(e, grid) for e in (0, 1, 5, 10)], grid, p, path=tmp_path / "row.png")
    assert len(fig.axes) == 4 and fig.axes[2].get_title().startswith("epoch 5: JS = ")
    assert (tmp_path / "row.png").read_bytes()[:8] == PNG_SIGNATURE

    z = np.linspace(-3, 3, 200)
    fig = plotting.plot_generator_map(z, -TWO.quantile(0.5 * (1 + np.tanh(z))), TWO, path=tmp_path / "map.png")
    assert len(fig.axes) == 3 and "mirrored" in fig.axes[1].get_legend().get_texts()[1].get_text()

    fig = plotting.plot_js_curve({"a": ([0, 1, 2], [0.6, 0.1, 0.01])}, floor=0.001)
    assert fig.axes[0].get_yscale() == "log"

    d = np.linspace(0.01, 0.99, 50)
    fig = plotting.plot_g_losses(d, {"minimax": np.log(1 - d)}, {"minimax": -d})
    assert len(fig.axes) == 2


def test_plot_errors_are_explained():
    grid = toy.make_grid(-6, 6, 121)
    with pytest.raises(ValueError, match="no snapshots"):
        plotting.plot_snapshots([], grid, TWO.pdf(grid))
    with pytest.raises(ValueError, match="same length"):
        plotting.plot_generator_map(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="curves is empty"):
        plotting.plot_js_curve({})


def test_plot_points_2d_one_panel_per_run_titled_with_its_mode_report(tmp_path):
    ring = toy2d.ring()
    on_two_modes = np.repeat(ring.centres[:2], 50, axis=0)
    fig = plotting.plot_points_2d({"data": ring.sample(400), "collapsed": on_two_modes, "diverged":
                                   np.full((10, 2), np.nan)}, ring, path=tmp_path / "points.png")
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 3
    assert "8/8 modes" in visible[0].get_title() and "2/8 modes, 100% HQ" in visible[1].get_title()
    assert "no finite points" in visible[2].get_title()
    assert (tmp_path / "points.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="no panels"):
        plotting.plot_points_2d({}, ring)


def test_plot_history_colours_each_curve_the_same_whatever_the_key_order():
    """D(x) is blue and D(G(z)) orange in every notebook, whichever the history lists first."""
    curves = {"d_real": [0.8, 0.7], "d_fake": [0.2, 0.3]}
    colours = []
    for order in (curves, dict(reversed(list(curves.items())))):
        fig = plotting.plot_history(order)
        colours.append({line.get_label(): line.get_color() for line in fig.axes[0].get_lines() if line.get_label() != "0.5 (equilibrium)"})
    assert colours[0] == colours[1]
    assert len(set(colours[0].values())) == 2
