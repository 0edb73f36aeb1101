"""Reads a raw results folder written by bench/run.sh (default bench/results/raw), writes the
summary JSON files next to it (training_epoch.json, ekld.json, ekld_adaptive.json) and prints
the tables; for the default folder it also regenerates the generated part of BENCHMARKS.md.
Stages whose raw files are absent (older raw folders) are left out.

usage: summarize.py [RAW_DIR]
"""
import glob
import json
import os
import re
import statistics
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
DEFAULT_RAW = os.path.join(ROOT, "bench", "results", "raw")

# Issue #10's targets for adaptive eKLD against fixed 40 x 100 on the same trained model.
MAX_TIME_RATIO = 0.25
MIN_SPEARMAN = 0.9


def load(path):
    with open(path) as f:
        return json.load(f)


def epoch_lines(path):
    """A copied run's `metrics.jsonl`, read as invlab's own reader (`RunDir::read_metrics`)
    reads it: one JSON object per line, a torn last line (a run killed mid-write) skipped.
    The benchmark reads the per-epoch file itself because it needs what no `invlab report`
    output carries: every epoch's `train_seconds` and the final eKLD's timing fields."""
    out = []
    with open(path) as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out


def load_optional(path):
    return load(path) if os.path.exists(path) else None


def pairs(raw):
    return sorted(int(re.search(r"rust-(\d+)\.metrics", p).group(1))
                  for p in glob.glob(os.path.join(raw, "rust-*.metrics.jsonl")))


def resnet_pairs(raw):
    return sorted(int(re.search(r"resnet-rust-(\d+)\.metrics", p).group(1))
                  for p in glob.glob(os.path.join(raw, "resnet-rust-*.metrics.jsonl")))


def train_row(pair, rust_metrics, py_json, py_layout_json=None):
    """One pair's training epoch: each side's median over its epochs after the first. With
    `py_layout_json` (the reference with invlab's layout of the same small CNN), the ratio also
    splits into the layout's share and the rest of the pipeline's."""
    epochs = epoch_lines(rust_metrics)
    rust_epoch = statistics.median(e["train_seconds"] for e in epochs[1:])
    py_train = load(py_json)
    py_epoch = statistics.median(py_train["epoch_seconds"][1:])
    py_data = statistics.median(py_train["data_seconds"][1:])
    n = py_train["images"]
    row = {"pair": pair, "images": n, "rust_seconds": rust_epoch, "python_seconds": py_epoch,
           "python_data_seconds": py_data, "rust_images_per_s": n / rust_epoch,
           "python_images_per_s": n / py_epoch, "ratio": py_epoch / rust_epoch}
    if py_layout_json is not None and os.path.exists(py_layout_json):
        layout = load(py_layout_json)
        layout_epoch = statistics.median(layout["epoch_seconds"][1:])
        row.update({
            "python_layout_seconds": layout_epoch,
            "python_layout_data_seconds": statistics.median(layout["data_seconds"][1:]),
            "python_layout_images_per_s": n / layout_epoch,
            # reference plain / reference in invlab's layout: what the layout alone buys
            "layout_ratio": py_epoch / layout_epoch,
            # reference in invlab's layout / invlab: the same model, the rest of the pipeline
            "same_model_ratio": layout_epoch / rust_epoch,
        })
    return row


TRAINING_KEYS = ("rust_seconds", "python_seconds", "python_data_seconds", "rust_images_per_s",
                 "python_images_per_s", "ratio", "python_layout_seconds",
                 "python_layout_data_seconds", "python_layout_images_per_s", "layout_ratio",
                 "same_model_ratio")


def training_summary(name, machine, rows):
    return {"benchmark": name, "machine": machine, "pairs": rows,
            **{k: stats([r[k] for r in rows])
               for k in TRAINING_KEYS if all(k in r for r in rows)}}


def training_lines(title, training, rows):
    if "same_model_ratio" not in training:
        return [
            f"### {title}",
            "",
            "Median (min - max) over pairs; each run's figure is the median of its epochs after "
            "the first.",
            "",
            "| | invlab (Rust, tch) | PyTorch reference (Python) |",
            "|---|---|---|",
            f"| seconds per epoch | {fmt(training['rust_seconds'])} | "
            f"{fmt(training['python_seconds'])} |",
            f"| images/s | {fmt(training['rust_images_per_s'], 0)} | "
            f"{fmt(training['python_images_per_s'], 0)} |",
            f"| of which data loading (reference) | - | {fmt(training['python_data_seconds'])} s |",
            "",
            f"Speed ratio invlab / reference (per pair, then median): "
            f"**{fmt(training['ratio'])}x**.",
            "",
            "| pair | invlab s | reference s | ratio |",
            "|---|---|---|---|",
            *[f"| {r['pair']} | {r['rust_seconds']:.2f} | {r['python_seconds']:.2f} | "
              f"{r['ratio']:.2f} |" for r in rows],
            "",
        ]
    return [
        f"### {title}",
        "",
        "Median (min - max) over pairs; each run's figure is the median of its epochs after the "
        "first. The reference runs twice per pair: with the plain small CNN (ReLU then pool, "
        "NCHW) and with invlab's layout of the same function (pool then ReLU, channels-last "
        "weights; `bench/common.py`'s `SmallCNNInvlabLayout`).",
        "",
        "| | invlab (Rust, tch) | reference, invlab's layout | reference, plain layout |",
        "|---|---|---|---|",
        f"| seconds per epoch | {fmt(training['rust_seconds'])} | "
        f"{fmt(training['python_layout_seconds'])} | {fmt(training['python_seconds'])} |",
        f"| images/s | {fmt(training['rust_images_per_s'], 0)} | "
        f"{fmt(training['python_layout_images_per_s'], 0)} | "
        f"{fmt(training['python_images_per_s'], 0)} |",
        f"| of which data loading (reference) | - | "
        f"{fmt(training['python_layout_data_seconds'])} s | "
        f"{fmt(training['python_data_seconds'])} s |",
        "",
        "Speed ratios (per pair, then median):",
        "",
        f"- invlab against the plain reference (the whole difference): "
        f"**{fmt(training['ratio'])}x**",
        f"- of which the layout (reference plain / reference in invlab's layout): "
        f"**{fmt(training['layout_ratio'])}x**",
        f"- and the rest of the pipeline, same model on both sides (reference in invlab's "
        f"layout / invlab): **{fmt(training['same_model_ratio'])}x**",
        "",
        "| pair | invlab s | reference, invlab's layout s | reference, plain s | whole | layout "
        "| same model |",
        "|---|---|---|---|---|---|---|",
        *[f"| {r['pair']} | {r['rust_seconds']:.2f} | {r['python_layout_seconds']:.2f} | "
          f"{r['python_seconds']:.2f} | {r['ratio']:.2f} | {r['layout_ratio']:.2f} | "
          f"{r['same_model_ratio']:.2f} |" for r in rows],
        "",
    ]


# The careful PyTorch peers (issue #22): each reference variant's raw file prefix and label.
# bench/run.sh writes PREFIX-N.json for pair N; "dataloader" rows are the tutorial pipeline.
SMALL_CNN_PEERS = (
    ("py-train", "DataLoader, plain layout"),
    ("py-train-layout", "DataLoader, invlab's layout"),
    ("py-peer-tensor", "in-memory tensor + permutation, plain layout"),
    ("py-peer-tensor-cl", "in-memory tensor, channels_last"),
    ("py-peer-tensor-layout", "in-memory tensor, invlab's layout"),
    ("py-peer-tensor-compile", "in-memory tensor, torch.compile"),
)
RESNET_PEERS = (
    ("resnet-py", "DataLoader"),
    ("resnet-peer-tensor", "in-memory tensor + permutation"),
    ("resnet-peer-tensor-cl", "in-memory tensor, channels_last"),
    ("resnet-peer-tensor-compile", "in-memory tensor, torch.compile"),
)
# Issue #22's goal: invlab ahead of the strongest peer by at least this factor.
PEER_GOAL = 1.2


def peer_summary(raw, rust_rows, peers):
    """Every peer variant against invlab, pair by pair (peer epoch / invlab epoch, then the
    median), and the strongest peer: the variant with the shortest median epoch."""
    rust = {r["pair"]: r["rust_seconds"] for r in rust_rows}
    out = []
    for prefix, label in peers:
        epochs, ratios, firsts = [], [], []
        for pair, rust_epoch in rust.items():
            path = os.path.join(raw, f"{prefix}-{pair}.json")
            if not os.path.exists(path):
                continue
            peer = load(path)
            epoch = statistics.median(peer["epoch_seconds"][1:])
            epochs.append(epoch)
            ratios.append(epoch / rust_epoch)
            firsts.append(peer["epoch_seconds"][0])
        if epochs:
            out.append({"variant": prefix, "label": label, "pairs": len(epochs),
                        "first_epoch_seconds": statistics.median(firsts),
                        "seconds": stats(epochs), "ratio": stats(ratios)})
    if not out:
        return None
    strongest = min(out, key=lambda p: p["seconds"]["median"])
    return {"variants": out, "strongest": strongest["variant"],
            "ratio_to_strongest": strongest["ratio"], "goal": PEER_GOAL,
            "goal_met": strongest["ratio"]["median"] >= PEER_GOAL}


def steal_line(raw, stage):
    """The share of CPU time the hypervisor gave to other guests while each run of a stage ran
    (bench/run.sh's steal.jsonl): on a shared virtual machine, what slows one side of a pair."""
    path = os.path.join(raw, "steal.jsonl")
    if not os.path.exists(path):
        return []
    runs = [r for r in epoch_lines(path) if r["stage"] == stage]
    if not runs:
        return []
    values = [r["steal_percent"] for r in runs]
    noisy = sorted({r["pair"] for r in runs if r["steal_percent"] > 5})
    return [
        f"CPU steal (time this virtual machine's host gave to other guests) while the runs ran: "
        f"median {statistics.median(values):.1f} %, at most {max(values):.1f} % of a run"
        + (f"; pairs with a side over 5 %: {', '.join(map(str, noisy))}" if noisy else "")
        + ".",
        "",
    ]


def peer_lines(title, peers, rust):
    if not peers:
        return []
    best = next(p for p in peers["variants"] if p["variant"] == peers["strongest"])
    verdict = "**PASS**" if peers["goal_met"] else "**FAIL**"
    return [
        f"#### {title}: invlab against every PyTorch peer",
        "",
        "Each peer's epoch (median after the first; `torch.compile` compiles in the first) "
        "and peer / invlab per pair, then the median (min - max); above 1 means invlab is faster. "
        f"invlab: {fmt(rust)} s per epoch.",
        "",
        "| peer (`bench/ref_train.py`) | seconds per epoch | first epoch s | peer / invlab |",
        "|---|---|---|---|",
        *[f"| {p['label']} | {fmt(p['seconds'])} | {fmt(p['first_epoch_seconds'])} | "
          f"**{fmt(p['ratio'])}x** |" for p in peers["variants"]],
        "",
        f"Strongest peer: {best['label']}; invlab against it **{fmt(best['ratio'])}x** "
        f"(goal >= {PEER_GOAL}x: {verdict}).",
        "",
    ]


def stats(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "values": values}


def fmt(s, digits=2):
    if s is None:
        return "-"
    if isinstance(s, (int, float)):
        return f"{s:.{digits}f}"
    return f"{s['median']:.{digits}f} ({s['min']:.{digits}f} - {s['max']:.{digits}f})"


def ekld_row(i, inv, rt, pil, batched, batched_layout=None):
    """One pair's eKLD stage. invlab's transform time is measured in the run
    (`invariance.transform_seconds`, around each transform call), as the Python sides measure
    theirs; raw folders from before it fall back to the separate `bench_transforms` process
    (`rt`)."""
    transform = inv.get("transform_seconds")
    if transform is None:
        transform = rt["seconds"]
    row = {"pair": i, "images_per_class": inv["images_per_class"], "samples": inv["samples"],
           "rust_seconds": inv["seconds"], "rust_transform_seconds": transform,
           "rust_transform_in_run": "transform_seconds" in inv,
           "rust_rest_seconds": inv["seconds"] - transform}
    rt = {"seconds": transform}
    # Each Python side: whole, transform, forward, and "rest" = whole minus transform (forward,
    # KL and overheads), the same split as invlab's.
    for name, ref in (("python", pil), ("batched", batched), ("layout", batched_layout)):
        if ref is None:
            continue
        row.update({
            f"{name}_seconds": ref["seconds"],
            f"{name}_transform_seconds": ref["transform_seconds"],
            f"{name}_forward_seconds": ref["forward_seconds"],
            f"{name}_kl_seconds": ref["kl_seconds"],
            f"{name}_rest_seconds": ref["seconds"] - ref["transform_seconds"],
            f"{name}_transform_ratio": ref["transform_seconds"] / rt["seconds"],
            f"{name}_rest_ratio": (ref["seconds"] - ref["transform_seconds"])
            / row["rust_rest_seconds"],
            f"{name}_whole_ratio": ref["seconds"] / inv["seconds"],
        })
        if "mean_ekld" in ref:
            row[f"{name}_mean_ekld"] = ref["mean_ekld"]
    # Older raw folders named the PIL ratios without a prefix.
    if pil is not None:
        row["transform_ratio"] = row["python_transform_ratio"]
        row["whole_ratio"] = row["python_whole_ratio"]
    return row


def stage_line(ekld, label, key):
    """One stage's row of table (b): the three times and the two ratios."""
    def seconds(side):
        return fmt(ekld[f"{side}_seconds" if key == "whole" else f"{side}_{key}_seconds"])
    return (f"| {label} | {seconds('rust')} s | {seconds('batched')} s | {seconds('python')} s | "
            f"**{fmt(ekld[f'batched_{key}_ratio'])}x** | **{fmt(ekld[f'python_{key}_ratio'])}x** |")


def layout_ekld_lines(ekld, rows):
    """Table (b'): invlab against the batched peer with the plain and with invlab's layout of
    the small CNN, split into transform and the rest."""
    return [
        "",
        "The batched peer again with invlab's layout of the small CNN (pool then ReLU, "
        "channels-last weights): the same function, so what remains between it and invlab is "
        "the pipeline, not the model.",
        "",
        "| stage | invlab | batched, invlab's layout | batched, plain | layout / invlab | "
        "plain / invlab |",
        "|---|---|---|---|---|---|",
        *[f"| {label} | {fmt(ekld[f'rust_{key}seconds'])} s | "
          f"{fmt(ekld[f'layout_{key}seconds'])} s | {fmt(ekld[f'batched_{key}seconds'])} s | "
          f"**{fmt(ekld[f'layout_{ratio}_ratio'])}x** | **{fmt(ekld[f'batched_{ratio}_ratio'])}x** |"
          for label, key, ratio in (("transform (rotations)", "transform_", "transform"),
                                    ("rest (forward, KL)", "rest_", "rest"),
                                    ("whole evaluation", "", "whole"))],
        f"| of which forward passes (Python) | - | {fmt(ekld['layout_forward_seconds'])} s | "
        f"{fmt(ekld['batched_forward_seconds'])} s | - | - |",
    ]


def ekld_lines(ekld, rows):
    has_batched = all("batched_seconds" in r for r in rows)
    first = rows[0]
    k, m = first["images_per_class"], first["samples"]
    title = (f"### (b) Full eKLD evaluation (49 classes x {k} images x {m} rotations = "
             f"{49 * k * m:,} images)")
    if not has_batched:
        return [
            title, "",
            "| stage | invlab (Rust, tch) | PyTorch reference (Python, PIL) | ratio |",
            "|---|---|---|---|",
            f"| transform (rotations) | {fmt(ekld['rust_transform_seconds'])} s | "
            f"{fmt(ekld['python_transform_seconds'])} s | **{fmt(ekld['transform_ratio'])}x** |",
            f"| forward + KL (invlab: whole minus transform) | {fmt(ekld['rust_rest_seconds'])} s"
            f" | {fmt(ekld['python_forward_seconds'])} s (forward only) | - |",
            f"| whole evaluation | {fmt(ekld['rust_seconds'])} s | {fmt(ekld['python_seconds'])} s"
            f" | **{fmt(ekld['whole_ratio'])}x** |",
            "",
            "| pair | invlab whole s | invlab transform s | reference whole s | "
            "reference transform s | reference forward s | whole ratio | transform ratio |",
            "|---|---|---|---|---|---|---|---|",
            *[f"| {r['pair']} | {r['rust_seconds']:.1f} | {r['rust_transform_seconds']:.2f} | "
              f"{r['python_seconds']:.1f} | {r['python_transform_seconds']:.1f} | "
              f"{r['python_forward_seconds']:.1f} | {r['whole_ratio']:.2f} | "
              f"{r['transform_ratio']:.1f} |" for r in rows],
        ]
    return [
        title, "",
        "Three implementations of the same evaluation: invlab; the batched PyTorch peer "
        "(`bench/ref_ekld_batched.py`: `affine_grid` + bicubic `grid_sample` on each class's "
        f"{k * m:,} copies at once, forward in 256-image batches under `inference_mode`); the "
        "paper-style reference (`bench/ref_ekld.py`: PIL rotations in a Python loop, one "
        f"{k * m:,}-image forward batch per class). \"Rest\" is whole minus transform on every "
        "side (forward passes, KL, overheads). Ratios are the peer's time / invlab's time. "
        + ("Every side times its transforms inside its own eKLD run (invlab: "
           "`invariance.transform_seconds`, around each transform call)."
           if all(r["rust_transform_in_run"] for r in rows) else
           "invlab's transform time comes from a separate process (`bench_transforms`), the "
           "Python sides' from inside their runs."),
        "",
        "| stage | invlab (Rust, tch) | PyTorch batched | PyTorch PIL (paper style) | "
        "batched / invlab | PIL / invlab |",
        "|---|---|---|---|---|---|",
        *[stage_line(ekld, label, key) for label, key in
          (("transform (rotations)", "transform"), ("rest (forward, KL)", "rest"),
           ("whole evaluation", "whole"))],
        f"| of which forward passes (Python) | - | {fmt(ekld['batched_forward_seconds'])} s | "
        f"{fmt(ekld['python_forward_seconds'])} s | - | - |",
        "",
        "| pair | invlab whole s | invlab transform s | batched whole s | batched transform s | "
        "batched forward s | PIL whole s | PIL transform s | PIL forward s | batched / invlab | "
        "PIL / invlab |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *[f"| {r['pair']} | {r['rust_seconds']:.1f} | {r['rust_transform_seconds']:.2f} | "
          f"{r['batched_seconds']:.1f} | {r['batched_transform_seconds']:.2f} | "
          f"{r['batched_forward_seconds']:.1f} | {r['python_seconds']:.1f} | "
          f"{r['python_transform_seconds']:.2f} | {r['python_forward_seconds']:.1f} | "
          f"{r['batched_whole_ratio']:.2f} | {r['python_whole_ratio']:.2f} |" for r in rows],
        *(layout_ekld_lines(ekld, rows) if all("layout_seconds" in r for r in rows) else []),
    ]


def adaptive_results(raw):
    """Stage (c)'s results by config name: ekld-adaptive-NAME.json beside
    adaptive-run-summary-NAME.json, or, in raw folders from before several configs, the one
    ekld-adaptive.json (configs/default.toml)."""
    out = {}
    for path in sorted(glob.glob(os.path.join(raw, "ekld-adaptive-*.json"))):
        name = re.search(r"ekld-adaptive-(.+)\.json$", path).group(1)
        out[name] = adaptive_summary(raw, name)
    if not out and os.path.exists(os.path.join(raw, "ekld-adaptive.json")):
        out["default"] = adaptive_summary(raw, None)
    return out


def adaptive_summary(raw, name):
    suffix = f"-{name}" if name else ""
    result = load(os.path.join(raw, f"ekld-adaptive{suffix}.json"))
    run = load_optional(os.path.join(raw, f"adaptive-run-summary{suffix}.json")) or {}
    checks = {
        "time": result["median_time_ratio"] <= MAX_TIME_RATIO,
        "stderr": result["adaptive_median_stderr"] <= result["fixed_median_stderr"],
        "spearman": result["spearman_fixed_adaptive"] >= MIN_SPEARMAN,
    }
    config = f"configs/{name or 'default'}.toml"
    return {"benchmark": f"adaptive against fixed {result['fixed_design']} eKLD, one trained "
                         f"model ({config})", "config": config,
            "trained_balanced_accuracy": run.get("balanced_accuracy"),
            "trained_accuracy": run.get("accuracy"),
            "targets": {"max_time_ratio": MAX_TIME_RATIO, "stderr": "adaptive <= fixed",
                        "min_spearman": MIN_SPEARMAN},
            "pass": checks, **result}


def adaptive_lines(a, machine=None):
    def verdict(ok):
        return "PASS" if ok else "FAIL"
    balanced, summary_acc = a["trained_balanced_accuracy"], a["trained_accuracy"]
    model = (f"{100 * balanced:.1f} % balanced, {100 * summary_acc:.1f} % test accuracy in its "
             "summary" if balanced is not None else "summary not recorded")
    # The checkpoint must see the data it was trained on; a mismatch voids the comparison.
    if summary_acc is not None and abs(summary_acc - a["test_accuracy"]) > 0.005:
        model += " (**MISMATCH**: the checkpoint does not reproduce it)"
    fixed, adaptive = a["fixed_seconds"], a["adaptive_seconds"]
    measured = ""
    if machine is not None:
        measured = (f" Measured {machine['date']} by invlab {machine['invlab_commit']} "
                    f"({machine['threads']} threads; load average {machine['loadavg_start']} "
                    f"at the start).")
    return [
        f"### (c) Adaptive eKLD against fixed {a['fixed_design']} on the same trained model: "
        f"`{a['config']}`",
        "",
        f"One full run of `{a['config']}` ({model}; its checkpoint re-measured by "
        f"`tools/src/bench_ekld_adaptive.rs`: {100 * a['test_accuracy']:.1f} %), then "
        f"{len(fixed)} alternating pair{'s' if len(fixed) != 1 else ''} of the fixed and the "
        f"adaptive design (per-class target SE: the larger of {a['target_stderr']} nats and "
        f"the configured fraction of the class's eKLD). invlab only.{measured}",
        "",
        "| | fixed | adaptive | target | result |",
        "|---|---|---|---|---|",
        f"| seconds (median of pairs) | {statistics.median(fixed):.1f} | "
        f"{statistics.median(adaptive):.1f} | adaptive / fixed <= {MAX_TIME_RATIO} | "
        f"{a['median_time_ratio']:.3f}: **{verdict(a['pass']['time'])}** |",
        f"| median per-class SE (nats) | {a['fixed_median_stderr']:.4g} | "
        f"{a['adaptive_median_stderr']:.4g} | adaptive no worse | "
        f"**{verdict(a['pass']['stderr'])}** |",
        f"| forward passes (images) | {a['fixed_forwards']:,} | {a['adaptive_forwards']:,} | - | "
        f"{a['adaptive_forwards'] / a['fixed_forwards']:.3f} of fixed |",
        f"| Spearman, per-class eKLD fixed vs adaptive | - | - | >= {MIN_SPEARMAN} | "
        f"{a['spearman_fixed_adaptive']:.3f}: **{verdict(a['pass']['spearman'])}** |",
        "",
        "| pair | fixed s | adaptive s | ratio |",
        "|---|---|---|---|",
        *[f"| {i + 1} | {f:.1f} | {d:.1f} | {r:.3f} |" for i, (f, d, r) in
          enumerate(zip(fixed, adaptive, a["time_ratio_adaptive_over_fixed"]))],
    ]


def main():
    raw = os.path.realpath(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_RAW
    res = os.path.dirname(raw)
    machine = load(os.path.join(raw, "machine.json"))
    train_rows, ekld_rows = [], []
    for i in pairs(raw):
        rust_metrics = os.path.join(raw, f"rust-{i}.metrics.jsonl")
        train_rows.append(train_row(i, rust_metrics, os.path.join(raw, f"py-train-{i}.json"),
                                    os.path.join(raw, f"py-train-layout-{i}.json")))
        inv = epoch_lines(rust_metrics)[-1]["invariance"]
        ekld_rows.append(ekld_row(
            i, inv, load_optional(os.path.join(raw, f"rust-transforms-{i}.json")),
            load_optional(os.path.join(raw, f"py-ekld-{i}.json")),
            load_optional(os.path.join(raw, f"py-ekld-batched-{i}.json")),
            load_optional(os.path.join(raw, f"py-ekld-batched-layout-{i}.json"))))

    def col(rows, key):
        return stats([r[key] for r in rows])

    training = training_summary("training epoch, configs/default.toml (small CNN, 7,822 "
                                "images)", machine, train_rows)
    resnet_rows = [train_row(i, os.path.join(raw, f"resnet-rust-{i}.metrics.jsonl"),
                             os.path.join(raw, f"resnet-py-{i}.json")) for i in resnet_pairs(raw)]
    resnet = (training_summary("training epoch, ResNet-20 on the K49-LT-sized set of "
                               "configs/default.toml (7,822 images)", machine, resnet_rows)
              if resnet_rows else None)
    small_peers = peer_summary(raw, train_rows, SMALL_CNN_PEERS)
    training["peers"] = small_peers
    resnet_peers = peer_summary(raw, resnet_rows, RESNET_PEERS) if resnet_rows else None
    if resnet is not None:
        resnet["peers"] = resnet_peers
    numeric = sorted({k for k in ekld_rows[0] if k.endswith(("seconds", "ratio"))
                      and all(k in r for r in ekld_rows)})
    ekld = {"benchmark": "full eKLD evaluation, 49 classes x "
                         f"{ekld_rows[0]['images_per_class']} images x "
                         f"{ekld_rows[0]['samples']} rotations",
            "machine": machine, "pairs": ekld_rows, **{k: col(ekld_rows, k) for k in numeric}}
    json.dump(training, open(os.path.join(res, "training_epoch.json"), "w"), indent=2)
    if resnet is not None:
        json.dump(resnet, open(os.path.join(res, "training_epoch_resnet20.json"), "w"), indent=2)
    json.dump(ekld, open(os.path.join(res, "ekld.json"), "w"), indent=2)
    adaptive = adaptive_results(raw)
    adaptive_machine = load_optional(os.path.join(raw, "machine-adaptive.json"))
    if adaptive:
        json.dump({"machine": adaptive_machine or machine, "configs": adaptive},
                  open(os.path.join(res, "ekld_adaptive.json"), "w"), indent=2)

    lines = [
        f"Measured {machine['date']} on {machine['nproc']} cores, {machine['cpu']} "
        f"(AVX-512: {'yes' if machine['cpu_flags_avx512f'] else 'no'}), "
        f"{machine['mem_gib']} GiB; {machine['threads']} threads on both sides "
        f"(OMP_NUM_THREADS / torch.set_num_threads), OpenMP wait policy "
        f"{machine.get('omp_wait_policy', 'default (spinning)')} on both sides; PyTorch {machine['python_torch']}; "
        f"invlab {machine['invlab_commit']}; {len(train_rows)} alternating pairs; load average "
        f"{machine['loadavg_start']} at the start, {machine.get('loadavg_end', '?')} at the end.",
        "",
        *training_lines("(a) Training epoch, `configs/default.toml`", training, train_rows),
        *steal_line(raw, "pairs_"),
        *peer_lines("(a) small CNN", small_peers, training["rust_seconds"]["median"]),
        *(training_lines("(a2) Training epoch, ResNet-20 on the same K49-LT-sized set "
                         "(`--set model.arch=resnet20`)", resnet, resnet_rows)
          if resnet is not None else []),
        *(steal_line(raw, "resnet_") if resnet is not None else []),
        *(peer_lines("(a2) ResNet-20", resnet_peers, resnet["rust_seconds"]["median"])
          if resnet is not None else []),
        *ekld_lines(ekld, ekld_rows),
        *[line for a in adaptive.values() for line in ["", *adaptive_lines(a, adaptive_machine)]],
    ]
    if raw == DEFAULT_RAW:
        path = os.path.join(ROOT, "BENCHMARKS.md")
        text = open(path).read()
        begin, end = "<!-- BEGIN GENERATED: bench/summarize.py -->", "<!-- END GENERATED -->"
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        open(path, "w").write(head + begin + "\n" + "\n".join(lines) + "\n" + end + tail)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
