"""Reads bench/results/raw/ (written by bench/run.sh), writes bench/results/*.json and
regenerates the generated part of BENCHMARKS.md."""
import glob
import json
import os
import re
import statistics

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RES = os.path.join(ROOT, "bench", "results")
RAW = os.path.join(RES, "raw")


def load(path):
    with open(path) as f:
        return json.load(f)


def pairs():
    return sorted(int(re.search(r"rust-(\d+)\.metrics", p).group(1))
                  for p in glob.glob(os.path.join(RAW, "rust-*.metrics.jsonl")))


def stats(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "values": values}


def main():
    machine = load(os.path.join(RAW, "machine.json"))
    train_rows, ekld_rows = [], []
    for i in pairs():
        epochs = [json.loads(l) for l in open(os.path.join(RAW, f"rust-{i}.metrics.jsonl"))]
        rust_epoch = statistics.median(e["train_seconds"] for e in epochs[1:])
        inv = epochs[-1]["invariance"]
        py_train = load(os.path.join(RAW, f"py-train-{i}.json"))
        py_epoch = statistics.median(py_train["epoch_seconds"][1:])
        py_data = statistics.median(py_train["data_seconds"][1:])
        n = py_train["images"]
        train_rows.append({"pair": i, "images": n, "rust_seconds": rust_epoch,
                           "python_seconds": py_epoch, "python_data_seconds": py_data,
                           "rust_images_per_s": n / rust_epoch, "python_images_per_s": n / py_epoch,
                           "ratio": py_epoch / rust_epoch})
        rt = load(os.path.join(RAW, f"rust-transforms-{i}.json"))
        pe = load(os.path.join(RAW, f"py-ekld-{i}.json"))
        ekld_rows.append({
            "pair": i, "images_per_class": inv["images_per_class"], "samples": inv["samples"],
            "rust_seconds": inv["seconds"], "rust_transform_seconds": rt["seconds"],
            "rust_rest_seconds": inv["seconds"] - rt["seconds"],
            "python_seconds": pe["seconds"], "python_transform_seconds": pe["transform_seconds"],
            "python_forward_seconds": pe["forward_seconds"], "python_kl_seconds": pe["kl_seconds"],
            "transform_ratio": pe["transform_seconds"] / rt["seconds"],
            "whole_ratio": pe["seconds"] / inv["seconds"],
        })

    def col(rows, key):
        return stats([r[key] for r in rows])

    training = {"benchmark": "training epoch, configs/default.toml (small CNN, 7,822 images)",
                "machine": machine, "pairs": train_rows,
                **{k: col(train_rows, k) for k in ("rust_seconds", "python_seconds",
                                                   "python_data_seconds", "rust_images_per_s",
                                                   "python_images_per_s", "ratio")}}
    ekld = {"benchmark": "full eKLD evaluation, 49 classes x 40 images x 100 rotations",
            "machine": machine, "pairs": ekld_rows,
            **{k: col(ekld_rows, k) for k in ("rust_seconds", "rust_transform_seconds",
                                               "rust_rest_seconds", "python_seconds",
                                               "python_transform_seconds",
                                               "python_forward_seconds", "transform_ratio",
                                               "whole_ratio")}}
    json.dump(training, open(os.path.join(RES, "training_epoch.json"), "w"), indent=2)
    json.dump(ekld, open(os.path.join(RES, "ekld.json"), "w"), indent=2)

    def fmt(s, digits=2):
        return f"{s['median']:.{digits}f} ({s['min']:.{digits}f} - {s['max']:.{digits}f})"

    lines = [
        f"Measured {machine['date']} on {machine['nproc']} cores, {machine['cpu']} "
        f"(AVX-512: {'yes' if machine['cpu_flags_avx512f'] else 'no'}), "
        f"{machine['mem_gib']} GiB; {machine['threads']} threads on both sides "
        f"(OMP_NUM_THREADS / torch.set_num_threads), OpenMP wait policy "
        f"{machine.get('omp_wait_policy', 'default (spinning)')} on both sides; PyTorch {machine['python_torch']}; "
        f"invlab {machine['invlab_commit']}; {len(train_rows)} alternating pairs; load average "
        f"{machine['loadavg_start']} at the start, {machine.get('loadavg_end', '?')} at the end.",
        "",
        "### (a) Training epoch, `configs/default.toml`",
        "",
        "Median (min - max) over pairs; each run's figure is the median of its epochs after the "
        "first.",
        "",
        "| | invlab (Rust, tch) | PyTorch reference (Python) |",
        "|---|---|---|",
        f"| seconds per epoch | {fmt(training['rust_seconds'])} | {fmt(training['python_seconds'])} |",
        f"| images/s | {fmt(training['rust_images_per_s'], 0)} | "
        f"{fmt(training['python_images_per_s'], 0)} |",
        f"| of which data loading (reference) | - | {fmt(training['python_data_seconds'])} s |",
        "",
        f"Speed ratio invlab / reference (per pair, then median): **{fmt(training['ratio'])}x**.",
        "",
        "| pair | invlab s | reference s | ratio |",
        "|---|---|---|---|",
        *[f"| {r['pair']} | {r['rust_seconds']:.2f} | {r['python_seconds']:.2f} | "
          f"{r['ratio']:.2f} |" for r in train_rows],
        "",
        "### (b) Full eKLD evaluation (49 classes x 40 images x 100 rotations = 196,000 images)",
        "",
        "| stage | invlab (Rust, tch) | PyTorch reference (Python, PIL) | ratio |",
        "|---|---|---|---|",
        f"| transform (rotations) | {fmt(ekld['rust_transform_seconds'])} s | "
        f"{fmt(ekld['python_transform_seconds'])} s | **{fmt(ekld['transform_ratio'])}x** |",
        f"| forward + KL (invlab: whole minus transform) | {fmt(ekld['rust_rest_seconds'])} s | "
        f"{fmt(ekld['python_forward_seconds'])} s (forward only) | - |",
        f"| whole evaluation | {fmt(ekld['rust_seconds'])} s | {fmt(ekld['python_seconds'])} s | "
        f"**{fmt(ekld['whole_ratio'])}x** |",
        "",
        "| pair | invlab whole s | invlab transform s | reference whole s | "
        "reference transform s | reference forward s | whole ratio | transform ratio |",
        "|---|---|---|---|---|---|---|---|",
        *[f"| {r['pair']} | {r['rust_seconds']:.1f} | {r['rust_transform_seconds']:.2f} | "
          f"{r['python_seconds']:.1f} | {r['python_transform_seconds']:.1f} | "
          f"{r['python_forward_seconds']:.1f} | {r['whole_ratio']:.2f} | "
          f"{r['transform_ratio']:.1f} |" for r in ekld_rows],
    ]
    path = os.path.join(ROOT, "BENCHMARKS.md")
    text = open(path).read()
    begin, end = "<!-- BEGIN GENERATED: bench/summarize.py -->", "<!-- END GENERATED -->"
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    open(path, "w").write(head + begin + "\n" + "\n".join(lines) + "\n" + end + tail)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
