#!/usr/bin/env python3
"""Words generator_budget.sh's runs into OUT/README.md: per transform and variant, the
generator's training time, its losses over the last 100 iterations and its coverage diagnostic
(read from `invlab report`'s OUT/TRANSFORM/coverage.csv). Computes no statistic beyond those
means. A generator whose training was interrupted and resumed counts only the seconds after the
resume, and its record does not say so: time a variant from an uninterrupted run (delete its
cache folder under RUNS/generators and its run to train it again).

Usage: generator_budget_table.py OUT RUN_DIR...
"""

import csv
import json
import sys
from pathlib import Path

LAST = 100
LOSSES = ["recon_x", "recon_s_a", "recon_s_b", "recon_c", "dis", "gan"]


def last_means(path: Path) -> dict:
    if not path.is_file():
        return {}
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows = rows[-LAST:]
    return {
        k: sum(r[k] for r in rows) / len(rows)
        for k in LOSSES
        if rows and all(r.get(k) is not None for r in rows)
    }


def run_row(run: Path, coverage: dict) -> dict:
    config = json.loads((run / "generator.json").read_text())
    spec = config["inputs"]["spec"]
    name = run.name
    stem, _, seed = name.rpartition("-seed")
    _, transform, variant = stem.split("-", 2)
    cov = {end: coverage.get((name, end)) for end in ("head", "tail")}
    return {
        "transform": transform,
        "variant": variant,
        "seed": seed,
        "trained_here": config["trained_here"],
        "seconds": config["seconds"],
        "iterations": config["iterations"],
        "dis_layers": spec["dis_layers"],
        "batch": spec["batch_size"],
        "recon_s_weight": spec["recon_s_weight"],
        "losses": last_means(run / "generator-losses.jsonl"),
        "coverage": cov,
    }


def fmt_cov(c) -> str:
    if c is None:
        return "–"
    return (
        f"{100 * float(c['range_covered']):.0f} % / "
        f"{float(c['within_image_spread']):.2f}x / {float(c['wasserstein1']):.3g}"
    )


def main() -> None:
    out = Path(sys.argv[1])
    runs = [Path(p) for p in sys.argv[2:]]
    coverage = {}
    for cov_path in sorted(out.glob("*/coverage.csv")):
        with cov_path.open() as f:
            for r in csv.DictReader(f):
                coverage[(r["run"], r["end"])] = r
    rows = [run_row(r, coverage) for r in runs if (r / "generator.json").exists()]
    lines = [
        "# GIT's generator within a CPU budget",
        "",
        "Written by `scripts/research/generator_budget.sh` (issue #19, item 4). Every generator",
        "was trained here from scratch (its own cache), one at a time, on the built-in glyphs;",
        "losses are means over the last 100 iterations; `recon s` per domain is to be read",
        "against 0.80, an encoder that always answers 0. Coverage (from `coverage.csv`): share of",
        "the true 5-95 % range covered / within-image spread (styles' sd over true draws' sd) /",
        "Wasserstein-1 to the true distribution, on 16 head and 16 tail images x 64 styles.",
        "",
        "| transform | variant | seed | dis layers | batch | iterations | recon-s weight | "
        "seconds | ms / it | recon x | recon s (a / b) | recon c | dis | gan | "
        "coverage head | coverage tail |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        loss = r["losses"]

        def g(k):
            return f"{loss[k]:.3f}" if k in loss else "–"

        seconds = f"{r['seconds']:.0f}" if r["trained_here"] else "cached"
        per_it = (
            f"{1000 * r['seconds'] / r['iterations']:.0f}" if r["trained_here"] else "–"
        )
        lines.append(
            f"| {r['transform']} | {r['variant']} | {r['seed']} | {r['dis_layers']} | "
            f"{r['batch']} | {r['iterations']} | {r['recon_s_weight']:g} | {seconds} | "
            f"{per_it} | {g('recon_x')} | {g('recon_s_a')} / {g('recon_s_b')} | "
            f"{g('recon_c')} | {g('dis')} | {g('gan')} | {fmt_cov(r['coverage']['head'])} | "
            f"{fmt_cov(r['coverage']['tail'])} |"
        )
    (out / "README.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
