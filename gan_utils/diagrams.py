"""Diagrams for the series: the pictures that explain an idea rather than plot a result.

``gan_diagram`` draws the two players of a GAN and what flows between them: noise ``z`` into
the generator G, its fake ``G(z)`` and a real ``x`` into the discriminator D, D's verdict, and
the two updates that the verdict drives. It is drawn with Matplotlib, so the same figure shows
in JupyterLab, in Colab and on a rendered page without a live kernel.

Every patch carries a ``gid`` (``"box:G"``, ``"arrow:G(z)"``, ...) so that a test can find the
boxes and arrows by name.
"""

from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from .plotting import finish

# The same colours as notebook 1's density plots: green for G, blue for D, orange for D's verdict.
_COLORS = {"noise": "0.92", "data": "0.92", "G": "#d9f0d3", "D": "#d6e6f5", "verdict": "#fde3c8"}
_EDGES = {"noise": "0.45", "data": "0.45", "G": "tab:green", "D": "tab:blue", "verdict": "tab:orange"}

# name: (x, y, width, height, text). Coordinates are in a 12 x 6 box; y grows upwards.
BOXES = {
    "noise": (0.2, 3.6, 2.2, 1.3, "noise $z$\n$z \\sim \\mathcal{N}(0, I)$"),
    "G": (3.6, 3.5, 2.2, 1.5, "G\ngenerator\n(the counterfeiter)"),
    "data": (0.2, 0.8, 2.2, 1.3, "training data\na real image $x$"),
    "D": (6.9, 2.0, 2.2, 1.5, "D\ndiscriminator\n(the detective)"),
    "verdict": (9.8, 2.05, 2.0, 1.4, "verdict\n$D(\\cdot)$ = P(real),\nbetween 0 and 1"),
}


def _box(ax, name):
    x, y, width, height, text = BOXES[name]
    patch = FancyBboxPatch((x, y), width, height, boxstyle="round,pad=0.05,rounding_size=0.15",
                           facecolor=_COLORS[name], edgecolor=_EDGES[name], linewidth=1.8, gid=f"box:{name}")
    ax.add_patch(patch)
    bold = name in ("G", "D")
    lines = text.split("\n")
    if bold:  # the player's letter large, its role below
        ax.text(x + width / 2, y + height * 0.68, lines[0], ha="center", va="center", fontsize=18, fontweight="bold")
        ax.text(x + width / 2, y + height * 0.28, "\n".join(lines[1:]), ha="center", va="center", fontsize=9)
    else:
        ax.text(x + width / 2, y + height / 2, text, ha="center", va="center", fontsize=9.5)


def _side(name, where):
    """A point on a box's edge: where is 'left', 'right', 'top' or 'bottom'."""
    x, y, width, height, _ = BOXES[name]
    return {"left": (x - 0.05, y + height / 2), "right": (x + width + 0.05, y + height / 2),
            "top": (x + width / 2, y + height + 0.05), "bottom": (x + width / 2, y - 0.05)}[where]


def _arrow(ax, gid, start, end, label, label_at, dashed=False, color="0.2", rad=0.0, fontsize=10):
    patch = FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=16, linewidth=1.6, color=color,
                            linestyle="--" if dashed else "-", connectionstyle=f"arc3,rad={rad}", gid=f"arrow:{gid}")
    ax.add_patch(patch)
    ax.text(*label_at, label, ha="center", va="center", fontsize=fontsize, color=color,
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.0})


def gan_diagram(path=None) -> Figure:
    """The GAN at a glance: G turns noise into fakes, D judges fakes and real images.

    Five boxes: the noise ``z``, the generator G (the counterfeiter), the training data ``x``,
    the discriminator D (the detective) and D's verdict, the probability that its input is real.
    Solid arrows carry data (``z`` into G, ``G(z)`` and ``x`` into D, D into its verdict); two
    dashed arrows carry the verdict back as the two updates: D learns to push ``D(x)`` towards 1
    and ``D(G(z))`` towards 0, G learns to push ``D(G(z))`` towards 1.

    Args:
        path: where to save the figure as a PNG (folders are created); ``None`` saves nothing.

    Returns:
        A Figure with one axes, axis lines off; its patches have gids ``box:<name>`` for each
        name in ``BOXES`` and ``arrow:z``, ``arrow:G(z)``, ``arrow:x``, ``arrow:verdict``,
        ``arrow:update D``, ``arrow:update G``.
    """
    fig = Figure(figsize=(10.0, 4.6))
    ax = fig.subplots()
    ax.set_xlim(0, 12)
    ax.set_ylim(0.1, 6.2)
    ax.set_aspect("equal")
    ax.axis("off")
    for name in BOXES:
        _box(ax, name)

    _arrow(ax, "z", _side("noise", "right"), _side("G", "left"), "$z$", (3.0, 4.55))
    _arrow(ax, "G(z)", _side("G", "right"), (7.6, 3.55), "a fake\n$G(z)$", (6.6, 4.6), rad=-0.25)
    _arrow(ax, "x", _side("data", "right"), (7.6, 1.95), "a real\n$x$", (5.2, 1.05), rad=0.2)
    _arrow(ax, "verdict", _side("D", "right"), _side("verdict", "left"), "", (9.45, 2.75))
    _arrow(ax, "update D", (10.4, 1.95), (8.4, 1.95), "D's update: $D(x) \\to 1$,  $D(G(z)) \\to 0$",
           (9.6, 0.75), dashed=True, color="tab:blue", rad=-0.9, fontsize=9.5)
    _arrow(ax, "update G", (10.8, 3.55), _side("G", "top"), "G's update: $D(G(z)) \\to 1$",
           (8.2, 5.85), dashed=True, color="tab:green", rad=0.45, fontsize=9.5)
    ax.set_title("A GAN: the counterfeiter G against the detective D", fontsize=12)
    fig.tight_layout()
    return finish(fig, path)
