import matplotlib

matplotlib.use("Agg")  # unit tests stay headless; the nbval run exercises inline display

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from gan_utils import diagrams

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _by_gid(ax, kind):
    return {patch.get_gid(): patch for patch in ax.patches if isinstance(patch, kind)}


def test_gan_diagram_draws_the_five_labelled_boxes():
    fig = diagrams.gan_diagram()
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    assert not ax.axison  # a diagram, not a plot: no axis lines or ticks
    boxes = _by_gid(ax, FancyBboxPatch)
    assert set(boxes) == {"box:noise", "box:G", "box:data", "box:D", "box:verdict"}
    texts = " ".join(text.get_text() for text in ax.texts)
    for label in ("G", "D", "generator", "discriminator", "counterfeiter", "detective", "noise $z$",
                  "a real image $x$", "$G(z)$", "P(real)"):
        assert label in texts, f"{label!r} missing from the diagram"


def test_gan_diagram_arrows_connect_the_right_boxes():
    ax = diagrams.gan_diagram().axes[0]
    arrows = _by_gid(ax, FancyArrowPatch)
    assert set(arrows) == {"arrow:z", "arrow:G(z)", "arrow:x", "arrow:verdict", "arrow:update D", "arrow:update G"}

    def inside(point, name, margin=0.1):
        x, y, width, height, _ = diagrams.BOXES[name]
        return x - margin <= point[0] <= x + width + margin and y - margin <= point[1] <= y + height + margin

    expected = {"arrow:z": ("noise", "G"), "arrow:G(z)": ("G", "D"), "arrow:x": ("data", "D"),
                "arrow:verdict": ("D", "verdict"), "arrow:update D": ("verdict", "D"),
                "arrow:update G": ("verdict", "G")}
    for gid, (source, target) in expected.items():
        start, end = arrows[gid]._posA_posB
        assert inside(start, source) and inside(end, target), f"{gid} should run from {source} to {target}"
    # The data flows forward in solid lines; the two updates flow back, dashed.
    assert arrows["arrow:update G"].get_linestyle() != "-" and arrows["arrow:update D"].get_linestyle() != "-"
    assert arrows["arrow:z"].get_linestyle() == "-"


def test_gan_diagram_saves_a_png(tmp_path):
    path = tmp_path / "sub" / "gan.png"
    diagrams.gan_diagram(path=path)
    assert path.read_bytes()[:8] == PNG_SIGNATURE
