#!/usr/bin/env python3
"""Prints rows of the README's "Comparing methods" table from the committed reproduction:
each row's series.csv (docs/results/reproduction-ROW/, written by `invlab report` for
scripts/research/reproduce.sh), read as reproduction_table.py reads it. Mean ± sd over seeds,
one value where a row ran one seed. Paste its output over the table's rows for those datasets.

Usage: scripts/research/readme_methods_table.py ROW=LABEL... (e.g. glyphs-bg=BG glyphs-dil=DIL)
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reproduction_table as t  # noqa: E402

RESULTS = Path(__file__).resolve().parents[2] / "docs/results"


def text(value, scale, digits, unit=""):
    """reproduction_table's cell, with the README's minus sign and a unit after a number."""
    cell = t.cell(value, scale, digits)
    return cell if cell == "–" else cell.replace("-", "−") + unit


if len(sys.argv) < 2 or any("=" not in a for a in sys.argv[1:]):
    sys.exit(__doc__)
for arg in sys.argv[1:]:
    row, label = arg.split("=", 1)
    means = t.series(RESULTS, row)
    if not means:
        sys.exit(f"no series in {RESULTS / f'reproduction-{row}' / 'series.csv'}")
    for method in sorted(means, key=t.order_key):
        m = means[method]
        print(f"| {label} | {t.method_name(method)} | {text(m.get('balanced_accuracy'), 100, 1, ' %')} | "
              f"{text(m.get('ekld_few'), 1, 3)} | {text(m.get('spearman_size_ekld'), 1, 2)} |")
