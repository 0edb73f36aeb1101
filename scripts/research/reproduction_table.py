#!/usr/bin/env python3
"""Writes the reproduction report (stdout) from what `invlab report` computed for each row.

Usage: reproduction_table.py RESULTS_DIR ROW...
       reproduction_table.py RESULTS_DIR --git-section   (only the GIT-with-oracle-control section)

For each ROW, `RESULTS_DIR/reproduction-ROW/` is `invlab report`'s folder over the row's runs
with `--baseline ROW-erm` (its `series.csv`: mean, sd and 95 % interval per method; its
`paired.csv`: every method against ERM on shared seeds), and, when the row has CE-DRS and
CE-DRS-GIT, `reproduction-ROW/vs-ce-drs/` is the report of those two with `--baseline
ROW-ce-drs`. No statistic is computed here: this script only reads those files, formats them
and states what each interval says about the paper's findings; the builds, the eKLD sampling
and the row's transform come from the report's comparison.csv. No run directory is read. Run
directories are named ROW-METHOD-sSEED (scripts/research/reproduce.sh).
"""
import csv
import math
import re
import sys
from pathlib import Path

NAMES = {"erm": "ERM", "ce-drs": "CE-DRS", "oracle": "Oracle", "ldam-drw": "LDAM-DRW",
         "balanced-softmax": "Balanced Softmax", "ce-drs-git": "CE-DRS-GIT"}
# Table order; LA-tauT rows (the logit-adjusted loss at tau = T) come after Balanced Softmax.
ORDER = ["erm", "ce-drs", "oracle", "ldam-drw", "balanced-softmax", "la-tau", "ce-drs-git"]
MEASURES = ["balanced_accuracy", "many_shot_accuracy", "medium_shot_accuracy",
            "few_shot_accuracy", "ekld_many", "ekld_medium", "ekld_few", "spearman_size_ekld"]


def method_name(method):
    if method.startswith("la-tau"):
        return f"LA (τ = {method[len('la-tau'):]})"
    return NAMES.get(method, method)


def order_key(method):
    for i, prefix in enumerate(ORDER):
        if method == prefix or (prefix == "la-tau" and method.startswith(prefix)):
            return (i, method)
    return (len(ORDER), method)


def read_csv(path):
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def series_name(label):
    """A series' name without the "(3 seeds)" or "(4 runs, 3 seeds)" the report appends to its
    label; a one-run series is labelled by its run's name, whose "-sSEED" / "-seedSEED" goes."""
    name, several = re.subn(r" \((\d+ runs?, )?\d+ seeds?\)$", "", label)
    return name if several else re.sub(r"-(s|seed)\d+$", "", name)


def number(text):
    return float(text) if text not in (None, "") else None


def series(results, row):
    """method -> {"seeds": n, measure: (mean, sd, lo, hi)} from series.csv."""
    out = {}
    for r in read_csv(results / f"reproduction-{row}" / "series.csv"):
        label = series_name(r["series"])
        if not label.startswith(f"{row}-"):
            continue
        m = out.setdefault(label[len(row) + 1:], {"seeds": int(r["seeds"])})
        m[r["measure"]] = tuple(number(r[k]) for k in ["mean", "sd", "ci95_low", "ci95_high"])
    return out


def paired(path, row):
    """(candidate method, baseline method, measure) -> paired.csv's row."""
    out = {}
    for r in read_csv(path):
        cand, base = series_name(r["candidate"]), series_name(r["baseline"])
        if cand.startswith(f"{row}-") and base.startswith(f"{row}-"):
            out[(cand[len(row) + 1:], base[len(row) + 1:], r["measure"])] = r
    return out


def cell(value, scale, digits):
    if value is None:
        return "–"
    mean, sd, _, _ = value
    if mean is None:
        return "–"
    if sd is None:
        return f"{mean * scale:.{digits}f}"
    return f"{mean * scale:.{digits}f} ± {sd * scale:.{digits}f}"


def interval(r, scale=1.0, digits=2, suffix=""):
    """"0.71x [0.32, 1.52]" or "+5.2 [+0.4, +10.0]" from a paired.csv row."""
    mean, lo, hi = number(r["mean"]), number(r["ci95_low"]), number(r["ci95_high"])
    ratio = r["contrast"] == "ratio"
    none = 1.0 if ratio else 0.0
    # A bound that rounds onto "no change" without being it gets one more digit, so that the
    # printed interval shows the side the verdict (which reads the unrounded bound) is on.
    for bound in (lo, hi):
        while (bound is not None and bound != none and digits < 6
               and round(bound * (1 if ratio else scale), digits) == none):
            digits += 1
    fmt = (lambda v: f"{v:.{digits}f}x") if ratio else (lambda v: f"{v * scale:+.{digits}f}{suffix}")
    text = fmt(mean)
    if lo is not None and hi is not None:
        text += f" [{fmt(lo)}, {fmt(hi)}]"
    return text


def verdict(r, lower_is="lower"):
    """What the paired interval says: below, above, or across the no-change value."""
    lo, hi = number(r["ci95_low"]), number(r["ci95_high"])
    none = 1.0 if r["contrast"] == "ratio" else 0.0
    if lo is None or hi is None:
        return "no interval, no verdict"
    if hi < none:
        return f"{lower_is} on the interval"
    if lo > none:
        return "higher on the interval"
    return "not established (the interval holds no change)"


def p_text(p):
    """A sign test's p: two decimals, or the first significant digit below 0.01."""
    return f"{p:.2f}" if p >= 0.01 else f"{p:.1g}"


def seeds_text(r):
    if r["seeds"] == "1":
        return "one seed"
    return (f"{r['seeds']} seeds, {r['above']} above / {r['below']} below, "
            f"sign test p = {p_text(float(r['sign_test_p']))}")


def row_facts(results, row):
    """The row's transform, eKLD sampling and the builds that made its runs, from the
    report's comparison.csv."""
    transform, sampling, builds = None, set(), {}
    for r in read_csv(results / f"reproduction-{row}" / "comparison.csv"):
        sampling.add(r.get("ekld_sampling") or "fixed")
        commit = r.get("invlab_commit") or "not recorded"
        builds[commit] = builds.get(commit, 0) + 1
        transform = transform or r.get("transform")
    return transform, sorted(sampling), builds


def tail_group(means):
    """The few-shot group, or the smallest group a row has (Fashion-MNIST's Zipf tail ends at
    48 images: no class under 20)."""
    for g in ["few", "medium"]:
        if any((m.get(f"ekld_{g}") or (None,))[0] is not None for m in means.values()):
            return g
    return None


def one_seed_pair(means, candidate, baseline, measure):
    """A paired.csv-shaped row from two one-seed series' values (the report pairs nothing
    without seeds): the ratio (eKLD) or difference, with no interval."""
    a = (means.get(candidate) or {}).get(measure)
    b = (means.get(baseline) or {}).get(measure)
    if not a or not b or a[0] is None or b[0] is None:
        return None
    if measure.startswith("ekld"):
        if b[0] <= 0:
            return None
        contrast, value = "ratio", a[0] / b[0]
    else:
        contrast, value = "difference", a[0] - b[0]
    return {"contrast": contrast, "mean": str(value), "ci95_low": "", "ci95_high": "",
            "seeds": "1", "above": str(int(value > (1 if contrast == "ratio" else 0))),
            "below": str(int(value < (1 if contrast == "ratio" else 0))), "sign_test_p": "1"}


def with_one_seed_pairs(pairs, means, baseline):
    """`pairs`, or where a row ran one seed, the point comparisons with `baseline`."""
    if pairs or any(m.get("seeds", 0) > 1 for m in means.values()):
        return pairs
    out = {}
    for method in means:
        if method == baseline:
            continue
        for measure in MEASURES:
            r = one_seed_pair(means, method, baseline, measure)
            if r:
                out[(method, baseline, measure)] = r
    return out


def findings(means, vs_erm, vs_drs, transform):
    vs_erm = with_one_seed_pairs(vs_erm, means, "erm")
    vs_drs = with_one_seed_pairs(vs_drs, means, "ce-drs")
    out = []
    for method in ["erm", "ce-drs"]:
        s = (means.get(method) or {}).get("spearman_size_ekld")
        if not s:
            continue
        mean, _, lo, hi = s
        text = f"{method_name(method)}: Spearman(size, eKLD) {mean:+.2f}"
        if lo is not None:
            text += f" [{lo:+.2f}, {hi:+.2f}]"
            text += (": eKLD falls with class size on the interval (agrees with the paper)."
                     if hi < 0 else ": the interval holds 0 (does not establish the paper's trend).")
        else:
            text += " (one seed: no interval)."
        out.append(text)
    tail = tail_group(means)
    if tail is None:
        return out or ["(not enough runs to compare)"]
    tail_name = {"few": "few-shot", "medium": "medium-shot (the row has no few-shot class)"}[tail]
    measure = f"ekld_{tail}"
    r = vs_erm.get(("oracle", "erm", measure))
    if r:
        out.append(f"Oracle against ERM: {tail_name} eKLD {interval(r)} ({seeds_text(r)}): "
                   f"{verdict(r)}; the paper: transforming the tail's own images shrinks it.")
    r = vs_drs.get(("ce-drs-git", "ce-drs", measure))
    if r:
        acc = vs_drs.get(("ce-drs-git", "ce-drs", "balanced_accuracy"))
        acc_text = f"; balanced accuracy {interval(acc, 100, 1, ' pts')}" if acc else ""
        if transform == "rot":
            word = ("outside the paper: GIT is defined there for BG and DIL only, MUNIT's style "
                    "path cannot rotate; measured, no verdict")
        else:
            word = verdict(r)
        out.append(f"CE-DRS-GIT against CE-DRS: {tail_name} eKLD {interval(r)} ({seeds_text(r)})"
                   f"{acc_text}: {word}.")
    for method in sorted(means, key=order_key):
        if method in ("erm", "ce-drs", "oracle", "ce-drs-git"):
            continue
        acc = vs_erm.get((method, "erm", "balanced_accuracy"))
        few_acc = vs_erm.get((method, "erm", f"{tail}_shot_accuracy"))
        ekld = vs_erm.get((method, "erm", measure))
        if not acc:
            continue
        text = (f"{method_name(method)} against ERM: balanced accuracy "
                f"{interval(acc, 100, 1, ' pts')} ({seeds_text(acc)}): {verdict(acc)}")
        if few_acc:
            text += f"; {tail_name} accuracy {interval(few_acc, 100, 1, ' pts')}"
        if ekld:
            text += (f"; {tail_name} eKLD {interval(ekld)}: {verdict(ekld)} "
                     "(the paper: re-balancing leaves tail invariance where it was)")
        if method == "ldam-drw":
            text += " (its eKLD is on softmax(30 cos), the normalized head's output)"
        out.append(text + ".")
    return out or ["(not enough runs to compare)"]


GIT_ROWS = [("bg", "the built-in glyphs, BG"), ("dil", "the built-in glyphs, DIL"),
            ("fashion-mnist-bg", "Fashion-MNIST-BG-LT (Zipf a = 3)"),
            ("rot", "the built-in glyphs, ROT (GIT outside the paper)")]
# Rows whose GIT the paper does not define: the paper trains no rotation generator, and MUNIT's
# style path (AdaIN, a per-channel scale and shift) cannot rotate. Measured, never judged.
OUTSIDE_THE_PAPER = {"rot"}


def by_role(rows, field):
    """The runs' series named by their role (drs, git, git-oracle): git_oracle.sh names them
    STEM-drs, STEM-git and STEM-git-oracle."""
    out = {}
    for r in rows:
        name = series_name(r[field])
        for role in ["git-oracle", "git", "drs"]:
            if name.endswith(f"-{role}"):
                out.setdefault(role, name)
                break
    return out


def git_oracle_section(results):
    """GIT against CE-DRS and the oracle control on the paper's proportions, from each
    `git-oracle-ROW/` folder (scripts/research/git_oracle.sh): paired.csv, gaps.csv and
    coverage.csv as `invlab report` wrote them."""
    lines = []
    for row, title in GIT_ROWS:
        folder = results / f"git-oracle-{row}"
        pairs = read_csv(folder / "paired.csv")
        if not pairs:
            continue
        role = {}
        for r in pairs:
            for field in ("candidate", "baseline"):
                role.update({k: v for k, v in by_role([r], field).items() if k not in role})
        def pair(candidate, measure):
            for r in pairs:
                if (series_name(r["candidate"]) == role.get(candidate)
                        and series_name(r["baseline"]) == role.get("drs")
                        and r["measure"] == measure):
                    return r
            return None
        git, oracle = pair("git", "ekld_few"), pair("git-oracle", "ekld_few")
        if git is None:
            continue
        lines.append(f"### {title}: [`git-oracle-{row}/`](git-oracle-{row}/report.md)\n")
        lines.append("| against CE-DRS | few-shot eKLD (ratio) | seeds | verdict | balanced accuracy (points) |")
        lines.append("|---|---|---|---|---|")
        for name, r, acc in [("CE-DRS-GIT", git, pair("git", "balanced_accuracy")),
                             ("oracle control", oracle, pair("git-oracle", "balanced_accuracy"))]:
            if r is None:
                continue
            acc_text = interval(acc, 100, 1) if acc else "–"
            said = verdict(r)
            if name == "CE-DRS-GIT" and row in OUTSIDE_THE_PAPER:
                said = f"outside the paper (GIT is not defined for this transform there); measured: {said}"
            lines.append(f"| {name} | {interval(r)} | {seeds_text(r)} | {said} | {acc_text} |")
        lines.append("")
        gaps = {g["measure"]: g for g in read_csv(folder / "gaps.csv")
                if (series_name(g["candidate"]), series_name(g["baseline"]),
                    series_name(g["reference"])) == (role.get("git"), role.get("drs"),
                                                     role.get("git-oracle"))}
        for measure, what in [("ekld_few", "few-shot eKLD (on the log scale"),
                              ("balanced_accuracy", "balanced accuracy (")]:
            g = gaps.get(measure)
            if g:
                beyond = ("; above 100 %: GIT goes further than the control"
                          if float(g["mean"]) > 1 else "")
                lines.append(f"- GIT closes {100 * float(g['mean']):.0f} % "
                             f"[{100 * float(g['ci95_low']):.0f}, {100 * float(g['ci95_high']):.0f}] "
                             f"of the CE-DRS -> oracle-control gap in {what}"
                             f"{'; ' if what.endswith('scale') else ''}{g['seeds']} seeds{beyond}).")
        cover = read_csv(folder / "coverage.csv")
        for end in ["head", "tail"]:
            rows = [c for c in cover if c["end"] == end]
            if not rows:
                continue
            finite = [c for c in rows if math.isfinite(float(c["range_covered"]))
                      and math.isfinite(float(c["within_image_spread"]))]
            unread = f"; {len(rows) - len(finite)} measured nothing" if len(finite) < len(rows) else ""
            if not finite:
                lines.append(f"- Generator coverage, {end} images: no run measured anything.")
                continue
            covered = [100 * float(c["range_covered"]) for c in finite]
            spread = [float(c["within_image_spread"]) for c in finite]
            lines.append(f"- Generator coverage, {end} images ({rows[0]['measure']}, "
                         f"{len(rows)} runs{unread}): {min(covered):.0f}-{max(covered):.0f} % of "
                         f"the true 5-95 % range, within-image spread "
                         f"{min(spread):.2f}-{max(spread):.2f}x.")
        lines.append("")
    if not lines:
        return []
    if (results / "git-oracle-rot" / "paired.csv").exists():
        rot = ("ROT's row is outside the paper's GIT claim (the paper trains no rotation "
               "generator; MUNIT's style path cannot rotate): it is measured, not judged, and its "
               "oracle control says what the schedule with true rotations does.\n")
    else:
        rot = ("ROT has no row: the paper trains no rotation generator (MUNIT's style path "
               "cannot rotate).\n")
    head = ["## GIT on the paper's proportions, with its oracle control\n",
            "Written from `scripts/research/git_oracle.sh`'s reports (26 epochs, GIT's generated "
            "rows and the control's true-transform rows from E1 = 14). The oracle control fills "
            "the generated half of each batch with a fresh true transform of its content image: "
            "the best any generator could do with GIT's recipe. Ratios are geometric means of "
            "the per-seed ratios with a 95 % t-interval on the log scale; the verdict follows "
            "the interval only. " + rot]
    return head + lines


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    results, rows = Path(sys.argv[1]), sys.argv[2:]
    if rows == ["--git-section"]:
        print("\n".join(git_oracle_section(results)))
        return
    print("# Reproduction: do the paper's findings hold here?\n")
    print("Generated by `scripts/research/reproduce.sh` from `invlab report`'s statistics "
          "(`series.csv`, `paired.csv` in each row's folder). Each cell is mean ± sd over the "
          "seeds run (one value when one seed). Accuracy in %, on the balanced test set; eKLD by "
          "class-size group (many > 100 training images, few < 20). Comparisons are paired on "
          "seeds: accuracy differences in points, eKLD as geometric-mean ratios, each with its "
          "95 % t-interval; a verdict needs the interval to exclude no change.\n")
    for row in rows:
        folder = results / f"reproduction-{row}"
        means = series(results, row)
        vs_erm = paired(folder / "paired.csv", row)
        vs_drs = paired(folder / "vs-ce-drs" / "paired.csv", row)
        transform, sampling, builds = row_facts(results, row)
        print(f"## {row}\n")
        print("| method | seeds | balanced | many | medium | few | eKLD many | eKLD medium "
              "| eKLD few | Spearman(size, eKLD) |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for method in sorted(means, key=order_key):
            m = means[method]
            cells = [cell(m.get(k), 100.0, 1) for k in MEASURES[:4]]
            cells += [cell(m.get(k), 1.0, 3) for k in MEASURES[4:7]]
            cells.append(cell(m.get(MEASURES[7]), 1.0, 2))
            print(f"| {method_name(method)} | {m['seeds']} | " + " | ".join(cells) + " |")
        print()
        print("Built from: " + ", ".join(f"`{c}` ({n} runs)" for c, n in sorted(builds.items()))
              + ".\n")
        print(f"eKLD sampling: {', '.join(sampling)}. Figures, the per-run table and the "
              f"statistics: [`reproduction-{row}/`](reproduction-{row}/report.md).\n")
        print(f"![eKLD against class size, {row}](reproduction-{row}/ekld_vs_size.png)\n")
        print("Against the paper's findings:\n")
        for line in findings(means, vs_erm, vs_drs, transform):
            print(f"- {line}")
        print()
    for line in git_oracle_section(results):
        print(line)


if __name__ == "__main__":
    main()
