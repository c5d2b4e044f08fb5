import matplotlib

matplotlib.use("Agg")  # unit tests stay headless; the nbval run exercises inline display

import numpy as np
import pytest

from gan_utils import plotting

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_image_grid_geometry_titles_and_png(tmp_path):
    images = np.linspace(-1, 1, 12 * 28 * 28, dtype=np.float32).reshape(12, 28, 28, 1)
    path = tmp_path / "grid.png"
    fig = plotting.image_grid(images, titles=[f"Digit: {i % 10}" for i in range(12)], ncols=5, path=path)
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
    with pytest.raises(ValueError, match="images must be a non-empty batch"):
        plotting.image_grid(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="titles has 1 entries for 2 images"):
        plotting.image_grid(np.zeros((2, 28, 28)), titles=["a"])
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
