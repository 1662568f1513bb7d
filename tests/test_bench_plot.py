"""bench/case_age.py --curve samples the step cost at several case ages and --plot draws it for
docs/performance.md (issue 13 item 6: "a plot where a curve says more than a table"). matplotlib is an optional
extra: the bench runs without it, and asks for it in one sentence, before measuring, when a plot is wanted.
Real subprocesses on a tiny curve; nothing here looks at a time, only at what is printed and drawn."""
from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench" / "case_age.py"
TINY = ["--curve", "--prior", "4", "--before", "4", "--every", "2", "--samples", "2"]
#: Runs the bench as if matplotlib were not installed (an import of it raises ImportError).
WITHOUT_MATPLOTLIB = ("import runpy, sys; sys.modules['matplotlib'] = None; sys.argv = sys.argv[1:]; "
                      "runpy.run_path(sys.argv[0], run_name='__main__')")


def bench(*args: str, without_matplotlib: bool = False) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", WITHOUT_MATPLOTLIB, str(BENCH)] if without_matplotlib else [sys.executable, str(BENCH)]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_curve_runs_without_matplotlib_and_prints_a_point_per_age():
    run = bench(*TINY, without_matplotlib=True)
    assert run.returncode == 0, run.stderr
    on, off = run.stdout.split("pruning off")
    # ages 0, 2, 4 with pruning on and off, each point the median of its samples (so ~0.5, ~2.5, ~4.5)
    assert [ln.split()[1] for ln in on.splitlines() if "prior steps:" in ln] == ["0.5", "2.5", "4.5"], run.stdout
    assert [ln.split()[1] for ln in off.splitlines() if "prior steps:" in ln] == ["0.5", "2.5", "4.5"], run.stdout
    assert all(ln.rstrip().endswith("KiB") and "x)" in ln for ln in run.stdout.splitlines() if "prior steps:" in ln)


def test_plot_without_matplotlib_says_how_to_install_it_before_measuring(tmp_path):
    run = bench(*TINY, "--plot", str(tmp_path / "c.svg"), without_matplotlib=True)
    assert run.returncode == 1
    assert "pip install -e '.[bench]'" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr
    assert "prior steps" not in run.stdout  # it said so at once, not after the measuring
    assert not (tmp_path / "c.svg").exists()


def test_plot_needs_the_curve():
    run = bench("--plot", "x.svg")
    assert run.returncode == 2 and "--plot draws the --curve" in run.stderr, run.stderr


def test_plot_is_a_small_svg_with_its_words_as_text(tmp_path):
    pytest.importorskip("matplotlib", reason="the plot needs the optional extra: pip install -e '.[bench]'")
    svg = tmp_path / "case-age.svg"
    run = bench(*TINY, "--plot", str(svg))
    assert run.returncode == 0, run.stderr
    text = svg.read_text()
    words = {"".join(t.itertext()).strip() for t in ET.fromstring(text).iter("{http://www.w3.org/2000/svg}text")}
    assert {"prior steps in the case", "cost of one step (× a young case's step)", "now: pruning on",
            "target: at most 1.5×"} <= words, words
    assert any(w.startswith("before: pruning off") for w in words), words
    assert "DejaVuSans-" not in text  # no embedded glyphs: text stays text (svg.fonttype none)
    assert "<dc:date>" not in text  # no date: the same figures give the same file
    assert len(text) < 40_000


INBOX = ROOT / "bench" / "inbox_scale.py"
INBOX_TINY = ["--curve", "--sizes", "40,20", "--repeats", "2"]


def inbox(*args: str, without_matplotlib: bool = False) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", WITHOUT_MATPLOTLIB, str(INBOX)] if without_matplotlib else [sys.executable, str(INBOX)]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_inbox_curve_grows_one_file_and_prints_now_and_before_at_each_size():
    run = inbox(*INBOX_TINY, without_matplotlib=True)
    assert run.returncode == 0, run.stderr
    points = [ln.split()[0] for ln in run.stdout.splitlines() if "open tasks:" in ln]
    assert points == ["20", "40"], run.stdout  # sizes in order, the file grown from one to the next
    assert all("first page now" in ln and "before" in ln for ln in run.stdout.splitlines() if "open tasks:" in ln)
    # the page as read before: every matching row sorted outside any index
    assert "USE TEMP B-TREE FOR ORDER BY" in run.stdout.split("plan before")[1]


def test_inbox_plot_without_matplotlib_says_how_to_install_it(tmp_path):
    run = inbox(*INBOX_TINY, "--plot", str(tmp_path / "i.svg"), without_matplotlib=True)
    assert run.returncode == 1 and "pip install -e '.[bench]'" in run.stderr, run.stderr
    assert "open tasks:" not in run.stdout


def test_inbox_plot_is_a_small_svg_with_its_words_as_text(tmp_path):
    pytest.importorskip("matplotlib", reason="the plot needs the optional extra: pip install -e '.[bench]'")
    svg = tmp_path / "inbox.svg"
    run = inbox(*INBOX_TINY, "--plot", str(svg))
    assert run.returncode == 0, run.stderr
    text = svg.read_text()
    words = {"".join(t.itertext()).strip() for t in ET.fromstring(text).iter("{http://www.w3.org/2000/svg}text")}
    assert {"open tasks in the inbox table (a quarter of them a coordinator's)",
            "p95 CPU time of a coordinator's first page (ms)", "target: p95 at most 20 ms"} <= words, words
    assert "DejaVuSans-" not in text and len(text) < 40_000
