"""Copy the README's pictures out of the book's executed notebooks, so that both show one run.

    make book                         # full size, with GAN_UTILS_MNIST set for full MNIST
    python tools/readme_images.py     # then this: rewrites docs/images/<name>.png

Each picture is the last PNG output of one cell (found by its id) of one executed notebook, as
the full book's execution cache (``build/book/cache``) holds it. A missing notebook, cell or picture is an
error naming it, never a stale picture kept silently.
"""

from __future__ import annotations

import argparse
import base64
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "build" / "book" / "cache"
# docs/images/<file>: (notebook, cell id) whose last picture it is
PICTURES = {
    "01_density.png": ("01_density_estimation", "cell-031"),  # D(x) against D* at four moments
    "02_vanilla.png": ("02_vanilla_gan_digit2", "cell-029"),  # the BatchNorm MLP: live run, then the shipped one
    "03_dcgan.png": ("03_dcgan", "cell-026"),  # the DCGAN: live run, then the shipped one, the same z
    "04_cgan.png": ("04_cgan", "cell-022"),  # one row per digit asked for: live run left, shipped right
    "05_ring_runs.png": ("05_when_gans_fail", "cell-029"),  # the plain GAN and the remedies on the ring
}


def last_picture(notebook: dict, cell_id: str, where: str) -> bytes:
    """The last image/png output of the cell ``cell_id``, decoded."""
    cells = [cell for cell in notebook["cells"] if cell.get("id") == cell_id]
    if not cells:
        raise SystemExit(f"{where}: no cell with id {cell_id!r}; update PICTURES in {__file__}.")
    pngs = [output["data"]["image/png"] for output in cells[0].get("outputs", []) if "image/png" in output.get("data", {})]
    if not pngs:
        raise SystemExit(f"{where}: cell {cell_id!r} has no picture; was the notebook executed (make book)?")
    return base64.b64decode(pngs[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=CACHE, help="the full book's execution cache")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.cache.exists():
        raise SystemExit(f"No execution cache at {args.cache}: build the full book first (make book).")
    from jupyter_cache import get_cache

    cache = get_cache(str(args.cache))
    records = cache.list_cache_records()
    for file, (name, cell_id) in PICTURES.items():
        mine = [record for record in records if Path(record.uri).name == f"{name}.ipynb"]
        if not mine:
            raise SystemExit(f"{name} is not in {args.cache}: build the full book first (make book).")
        newest = max(mine, key=lambda record: record.created)
        picture = last_picture(cache.get_cache_bundle(newest.pk).nb, cell_id, f"{name} in {args.cache}")
        (args.out / file).write_bytes(picture)
        print(f"{args.out / file}: {len(picture):,} bytes from {name}, cell {cell_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
