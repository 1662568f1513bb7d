"""Drawing a benchmark's curve as a small SVG for docs/ (``--plot PATH`` in bench/case_age.py).

matplotlib is an optional extra (``pip install -e '.[bench]'``); the benchmarks run without it and only ask for
it when a plot is wanted. Text stays text in the SVG (``svg.fonttype: none``: no embedded glyphs, so the file
is a few KiB and the words can be searched), and the file carries no date, so re-running it changes the SVG
only when the figures change.
"""
from __future__ import annotations

import sys

INSTALL_HINT = ("--plot needs matplotlib, an optional extra of this project: "
                "pip install -e '.[bench]'  (or: pip install 'matplotlib>=3.8,<4')")


def pyplot():
    """matplotlib.pyplot set up for small, text-as-text SVGs; exits with how to install it if it is missing."""
    try:
        import matplotlib
    except ImportError:
        sys.exit(INSTALL_HINT)
    matplotlib.use("Agg")  # no display needed
    matplotlib.rcParams.update({
        "svg.fonttype": "none",
        "svg.hashsalt": "accredit-bench",  # stable ids: the same figures give the same file
        "font.family": "sans-serif",
        "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],  # the SVG names these, then sans-serif
        "font.size": 10,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.alpha": 0.3,
    })
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: str) -> None:
    """Write ``fig`` to ``path`` (format from the suffix: .svg for docs/, .png to look at it) without a date."""
    metadata = {"Date": None} if path.endswith(".svg") else {}
    fig.savefig(path, bbox_inches="tight", metadata=metadata, dpi=120)
    print(f"plot written to {path}")
