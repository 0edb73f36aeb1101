"""The GPU check's summary: reads run.sh's work folder (runs/, steps/) and writes OUT/summary.json
and OUT/summary.md. Standard library only (it runs where numpy may be missing).

usage: summarize.py WORK OUT MODE DEVICE BUILD_JSON SECONDS
"""
import datetime
import json
import os
import statistics
import sys


def load(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def jsonl(path):
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError):
        return []


def without_timings(v):
    """Metrics with every timing removed: what two identical runs must share."""
    if isinstance(v, dict):
        return {k: without_timings(x) for k, x in v.items() if "seconds" not in k}
    if isinstance(v, list):
        return [without_timings(x) for x in v]
    return v


def steady_epoch(seconds):
    """The median of the epochs after the first (the first holds start-up and compilation)."""
    later = seconds[1:] or seconds
    return statistics.median(later) if later else None


class Check:
    def __init__(self, work, mode, device):
        self.work, self.mode, self.device = work, mode, device
        self.runs = os.path.join(work, "runs")
        self.steps = os.path.join(work, "steps")

    def run(self, name):
        d = os.path.join(self.runs, name)
        metrics = jsonl(os.path.join(d, "metrics.jsonl"))
        return {
            "dir": d,
            "info": load(os.path.join(d, "run.json"), {}),
            "summary": load(os.path.join(d, "summary.json")),
            "state": load(os.path.join(d, "state.json"), {}),
            "metrics": metrics,
            "generator": load(os.path.join(d, "generator.json")),
        }

    def training(self, name, sample_name):
        r = self.run(name)
        s = r["summary"]
        if not s:
            return {"status": "failed", "reason": f"run {name} has no summary.json (see run.log)"}
        epochs = [m["train_seconds"] for m in r["metrics"] if "train_seconds" in m]
        out = {
            "status": "ok",
            "device": r["info"].get("device"),
            "libtorch": r["info"].get("libtorch_version"),
            "epochs": len(epochs),
            "images": sum(r["info"].get("train_sizes") or []),
            "wall_seconds": s.get("wall_seconds"),
            "first_batch_seconds": s.get("first_batch_seconds"),
            "epoch_seconds": steady_epoch(epochs),
            "balanced_accuracy": s.get("balanced_accuracy"),
            "peak_rss_mib": s.get("peak_rss_mib"),
        }
        sample = load(os.path.join(self.steps, f"{sample_name}.json"))
        if sample:
            gpus = [g for g in sample.get("gpus", []) if g.get("cuda_ordinal") == 0] or sample.get("gpus", [])
            g = gpus[0] if gpus else {}
            out["gpu_utilization_mean_percent"] = g.get("utilization_mean_percent")
            out["gpu_utilization_max_percent"] = g.get("utilization_max_percent")
            out["gpu_memory_of_run_max_bytes"] = g.get("child_memory_max_bytes")
            out["gpu_memory_used_max_bytes"] = g.get("memory_used_max_bytes")
            if g.get("memory_used_max_bytes") is not None and g.get("memory_used_first_bytes") is not None:
                out["gpu_memory_rise_max_bytes"] = g["memory_used_max_bytes"] - g["memory_used_first_bytes"]
            out["sampler_readings"] = sample.get("readings")
            out["sampler_no_gpu_reason"] = sample.get("no_gpu_reason")
        return out

    def reference(self, name, invlab_epoch):
        ref = load(os.path.join(self.steps, f"{name}.json"))
        if not ref:
            return {"status": "skipped", "reason": "no reference result (no torch in the Python, or it failed: run.log)"}
        epoch = steady_epoch(ref["epoch_seconds"])
        return {
            "status": "ok",
            "torch": ref.get("torch"),
            "loader": ref.get("loader"),
            "arch": ref.get("arch"),
            "channels_last": ref.get("channels_last"),
            "device": ref.get("device"),
            "epoch_seconds": epoch,
            "peak_memory_bytes": ref.get("peak_memory_bytes"),
            "ratio_reference_over_invlab": (epoch / invlab_epoch) if invlab_epoch and epoch else None,
        }


def devices_step(c):
    d = load(os.path.join(c.steps, "devices.json"), {})
    out = {"status": "ok" if d else "failed", "probe": d}
    for name in ("devices-visible-0", "devices-visible-uuid"):
        v = load(os.path.join(c.steps, f"{name}.json"))
        if v:
            out[name] = {
                "cuda_visible_devices": v.get("cuda_visible_devices"),
                "device_count": v["libtorch"]["device_count"],
                "uuids": [g.get("uuid") for g in v["nvml"]["devices"] if g.get("cuda_ordinal") is not None],
            }
    auto = c.run("auto")
    out["auto_resolved_to"] = auto["info"].get("device")
    try:
        with open(os.path.join(c.steps, "bad-device.txt")) as f:
            text = f.read().strip().splitlines()
    except OSError:
        text = []
    exit_line = next((line for line in reversed(text) if line.startswith("exit ")), "exit ?")
    errors = [line for line in text if "cuda" in line.lower() and ("error" in line.lower() or "asked" in line.lower())]
    out["bad_device"] = {"exit": exit_line.split()[-1], "message": errors[0] if errors else (text[0] if text else "")}
    out["bad_device_clear"] = out["bad_device"]["exit"] not in ("0", "?") and bool(errors)
    return out


def determinism_step(c):
    a, b, stopped = c.run("det-a"), c.run("det-b"), c.run("det-stopped")
    if not a["metrics"] or not b["metrics"]:
        return {"status": "failed", "reason": "a deterministic run did not finish (run.log)"}
    same = without_timings(a["metrics"]) == without_timings(b["metrics"])
    try:
        with open(os.path.join(c.steps, "det-stopped-exit.txt")) as f:
            stop_exit = f.read().strip()
    except OSError:
        stop_exit = "?"
    resumed_at = stopped["info"].get("resumed_at")
    exact = bool(stopped["metrics"]) and without_timings(stopped["metrics"]) == without_timings(a["metrics"])
    return {
        "status": "ok" if same and exact else "failed",
        "two_deterministic_runs_identical": same,
        "epochs": len(a["metrics"]),
        "stop_exit_code": stop_exit,
        "stopped_after_epoch": resumed_at,
        "resumed_run_equals_unbroken_run": exact,
        "final_state": stopped["state"].get("status"),
    }


def generator_step(c):
    out = {}
    for preset in ("small", "paper"):
        g = c.run(f"gen-{preset}")["generator"]
        if not g:
            out[preset] = {"status": "failed", "reason": "no generator.json (run.log)"}
            continue
        it, sec = g.get("iterations"), g.get("seconds")
        out[preset] = {"status": "ok", "iterations": it, "seconds": sec,
                       "iterations_per_second": it / sec if it and sec else None}
    return out


def share_step(c):
    out = {}
    for k in (1, 4):
        s = load(os.path.join(c.steps, f"share-{k}.json"), {"status": "failed"})
        if s.get("status") == "ok":
            runs = [c.run(f"share{k}-seed{i}") for i in range(4)]
            done = sum(1 for r in runs if r["summary"])
            s["finished"] = done
            s["runs_per_hour"] = done / s["wall_seconds"] * 3600 if s["wall_seconds"] else None
            s["devices"] = sorted({r["info"].get("device") for r in runs if r["info"]})
        out[f"per_device_{k}"] = s
    return out


def fmt(v, digits=2, unit=""):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}{unit}"
    return f"{v}{unit}"


def mib(v):
    return "-" if v is None else f"{v / 2**20:.0f} MiB"


def markdown(s):
    L = []
    b = s["build"]
    L.append(f"# invlab GPU check: {s['mode']} ({s['device']})\n")
    L.append(f"Kit: invlab {b.get('invlab_commit')} built {b.get('built')} against torch {b.get('torch')} "
             f"/ tch {b.get('tch')}; run at {s['finished']}; {s['seconds']:.0f} s.\n")
    d = s["devices"]
    p = d.get("probe", {})
    lt = p.get("libtorch", {})
    L.append("## 1. Devices\n")
    L.append(f"- libtorch {lt.get('version')}: CUDA available {lt.get('cuda_available')}, "
             f"{lt.get('device_count')} device(s), cuDNN {lt.get('cudnn_available')}; "
             f"`device = \"auto\"` resolves to `{d.get('auto_resolved_to')}` in a run")
    for g in p.get("nvml", {}).get("devices", []):
        L.append(f"- NVML {g['nvml_index']}: {g['name']} {g['uuid']} as cuda:{g['cuda_ordinal']}, "
                 f"{mib(g.get('memory_total_bytes'))}")
    if p.get("nvml", {}).get("no_gpu_reason"):
        L.append(f"- NVML: {p['nvml']['no_gpu_reason']}")
    for name in ("devices-visible-0", "devices-visible-uuid"):
        if name in d:
            v = d[name]
            L.append(f"- `CUDA_VISIBLE_DEVICES={v['cuda_visible_devices']}`: {v['device_count']} device(s), "
                     f"visible UUIDs {v['uuids']}")
    bd = d.get("bad_device", {})
    L.append(f"- a device that is not there: exit {bd.get('exit')}, \"{bd.get('message')}\" "
             f"({'clear' if d.get('bad_device_clear') else 'NOT CLEAR'})\n")

    def training_table(title, inv, refs):
        L.append(f"## {title}\n")
        if inv.get("status") != "ok":
            L.append(f"invlab: {inv.get('status')}: {inv.get('reason')}\n")
            return
        L.append(f"invlab on {inv['device']} (libtorch {inv['libtorch']}): {inv['epochs']} epochs of "
                 f"{inv['images']} images, wall {fmt(inv['wall_seconds'], 1, ' s')}, first batch "
                 f"{fmt(inv['first_batch_seconds'], 2, ' s')}, balanced accuracy "
                 f"{fmt(inv['balanced_accuracy'], 3)}; GPU utilisation (the product's NVML sampler, "
                 f"{inv.get('sampler_readings')} readings) mean {fmt(inv.get('gpu_utilization_mean_percent'), 0, ' %')}, "
                 f"max {fmt(inv.get('gpu_utilization_max_percent'), 0, ' %')}; the run's GPU memory at most "
                 f"{mib(inv.get('gpu_memory_of_run_max_bytes'))} (NVML's per-process figure; the device's "
                 f"used memory rose by at most {mib(inv.get('gpu_memory_rise_max_bytes'))})"
                 + (f" ({inv['sampler_no_gpu_reason']})" if inv.get("sampler_no_gpu_reason") else "") + ".\n")
        L.append("| | seconds per epoch (median after the first) | reference / invlab |")
        L.append("|---|---|---|")
        L.append(f"| invlab | {fmt(inv['epoch_seconds'], 3)} | - |")
        for name, r in refs.items():
            if r.get("status") == "ok":
                L.append(f"| PyTorch {r['torch']}, {name} loader, {r['arch']} | {fmt(r['epoch_seconds'], 3)} | "
                         f"**{fmt(r['ratio_reference_over_invlab'], 2, 'x')}** |")
            else:
                L.append(f"| PyTorch, {name} | {r.get('status')}: {r.get('reason')} | - |")
        L.append("")

    training_table("2. configs/default.toml", s["default"]["invlab"], s["default"]["references"])
    training_table("3. ResNet-32, generated CIFAR-10-shaped data (configs/cifar10-lt.toml, crop/flip off)",
                   s["resnet32"]["invlab"], s["resnet32"]["references"])
    det = s["resnet32"]["determinism"]
    L.append(f"`train.deterministic = true`, twice: identical metrics **{det.get('two_deterministic_runs_identical')}**; "
             f"stopped by SIGTERM (exit {det.get('stop_exit_code')}) after epoch {det.get('stopped_after_epoch')} "
             f"and resumed: equal to the unbroken run **{det.get('resumed_run_equals_unbroken_run')}** "
             f"({det.get('status')}).\n")
    L.append("## 4. GIT's generator\n")
    for preset, g in s["generator"].items():
        if g.get("status") == "ok":
            L.append(f"- {preset}: {g['iterations']} iterations in {fmt(g['seconds'], 1, ' s')}: "
                     f"**{fmt(g['iterations_per_second'], 1)} it/s**")
        else:
            L.append(f"- {preset}: {g.get('status')}: {g.get('reason')}")
    L.append("\n## 5. Runs sharing one GPU (`--per-device`)\n")
    for k, v in s["share"].items():
        if v.get("status") == "ok":
            L.append(f"- {k.replace('_', ' ')}: {v['finished']} of {v['runs']} runs in "
                     f"{fmt(v['wall_seconds'], 1, ' s')}: **{fmt(v['runs_per_hour'], 0)} runs per hour** on {v['devices']}")
        else:
            L.append(f"- {k.replace('_', ' ')}: {v.get('status')}: {v.get('reason')}")
    lab = s["lab"]
    L.append(f"\n## 6. The lab, drawn headless\n\n{lab['status']}: {lab.get('lines')} lines in lab.txt; "
             f"GPU pane shows a device: {lab.get('gpu_pane_names_a_gpu')}.\n")
    return "\n".join(L) + "\n"


def main():
    work, out, mode, device, build, seconds = sys.argv[1:7]
    c = Check(work, mode, device)
    default = c.training("default", "default-sample")
    resnet = c.training("resnet32", "resnet-sample")
    lab_path = os.path.join(out, "lab.txt")
    lab = {"status": "failed", "reason": "no lab.txt"}
    if os.path.exists(lab_path):
        with open(lab_path) as f:
            text = f.read()
        names = [g["name"] for g in load(os.path.join(c.steps, "devices.json"), {}).get("nvml", {}).get("devices", [])]
        lab = {"status": "ok", "lines": len(text.splitlines()),
               "gpu_pane_names_a_gpu": any(n and n in text for n in names)}
    summary = {
        "mode": mode,
        "device": device,
        "build": load(build, {}),
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "seconds": float(seconds),
        "devices": devices_step(c),
        "default": {
            "invlab": default,
            "references": {loader: c.reference(f"ref-default-{loader}", default.get("epoch_seconds"))
                           for loader in ("dataloader", "tensor")},
        },
        "resnet32": {
            "invlab": resnet,
            "references": {loader: c.reference(f"ref-resnet32-{loader}", resnet.get("epoch_seconds"))
                           for loader in ("dataloader", "tensor")},
            "determinism": determinism_step(c),
        },
        "generator": generator_step(c),
        "share": share_step(c),
        "lab": lab,
    }
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write(markdown(summary))


if __name__ == "__main__":
    main()
