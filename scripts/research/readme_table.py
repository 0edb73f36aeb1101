#!/usr/bin/env python3
"""Prints the README's "A real batch run" table from the committed reproduction: the default
config's ERM runs (glyphs-rot-erm-s*) in docs/results/reproduction-glyphs-rot/comparison.csv,
which `invlab report` wrote for scripts/research/reproduce.sh. Paste its output over the table.

Usage: scripts/research/readme_table.py [COMPARISON_CSV]
"""
import csv
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
path = Path(sys.argv[1]) if len(sys.argv) > 1 else (
    ROOT / "docs/results/reproduction-glyphs-rot/comparison.csv")
rows = [r for r in csv.DictReader(path.open()) if r["run"].startswith("glyphs-rot-erm-s")]
if not rows:
    sys.exit(f"no glyphs-rot-erm-s* rows in {path}")


def pct(v):
    return f"{100 * float(v):.1f} %"


def minus(v):
    return f"{float(v):.2f}".replace("-", "−")


print("| seed | balanced accuracy | accuracy many / medium / few | "
      "eKLD many / medium / few (nats) | Spearman(class size, eKLD) |")
print("|---|---|---|---|---|")
for r in sorted(rows, key=lambda r: r["run"]):
    seed = r["run"].rsplit("-s", 1)[1]
    acc = " / ".join(f"{100 * float(r[k]):.1f}" for k in
                     ("many_shot_accuracy", "medium_shot_accuracy", "few_shot_accuracy"))
    ekld = " / ".join(f"{float(r[k]):.3f}" for k in ("ekld_many", "ekld_medium", "ekld_few"))
    print(f"| {seed} | {pct(r['balanced_accuracy'])} | {acc} % | {ekld} | "
          f"{minus(r['spearman_size_ekld'])} |")
mean = lambda k: statistics.mean(float(r[k]) for r in rows)
print()
print(f"Means over the {len(rows)} seeds: balanced {100 * mean('balanced_accuracy'):.1f} %, "
      f"many-shot {100 * mean('many_shot_accuracy'):.1f} %, "
      f"few-shot {100 * mean('few_shot_accuracy'):.1f} %, "
      f"eKLD many {mean('ekld_many'):.2f} / few {mean('ekld_few'):.2f} nats.")
