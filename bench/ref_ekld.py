"""Reference eKLD evaluation in the style of the paper's code: for each class, each of its
held-out images is rotated by 100 random angles with PIL (`Image.rotate(angle,
resample=BICUBIC)`) in a Python loop; the class's 4,000 transformed images form one batch;
the small CNN runs forward under torch.no_grad() on the base images and on the batch; then
KL(p(.|x) || p(.|x')) and argmax consistency per class.

usage: ref_ekld.py DATA_DIR SAMPLES OUT_JSON
"""
import json
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from common import SmallCNN, set_threads


def main():
    data_dir, samples, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    threads = set_threads()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    images = np.load(f"{data_dir}/ekld_x.npy")
    labels = np.load(f"{data_dir}/ekld_y.npy")
    train = np.load(f"{data_dir}/train_x.npy").astype(np.float32) / 255.0
    mean, std = float(train.mean()), float(train.std())
    classes = int(labels.max()) + 1
    model = SmallCNN(classes=classes).eval()

    def prep(batch_u8):
        return (torch.from_numpy(batch_u8).float().div(255.0) - mean) / std

    t_start = time.perf_counter()
    t_transform = t_forward = t_kl = 0.0
    ekld, consistency = [], []
    for c in range(classes):
        base = images[labels == c]  # K x 1 x H x W u8
        t0 = time.perf_counter()
        moved = []
        for img in base:
            pil = Image.fromarray(img[0])
            for angle in rng.uniform(-180.0, 180.0, samples):
                moved.append(np.asarray(pil.rotate(float(angle), resample=Image.BICUBIC)))
        moved = np.stack(moved)[:, None]  # (K * samples) x 1 x H x W
        t1 = time.perf_counter()
        with torch.no_grad():
            log_p = F.log_softmax(model(prep(base)), -1)
            log_q = F.log_softmax(model(prep(moved)), -1)
        t2 = time.perf_counter()
        with torch.no_grad():
            log_p_rep = log_p.repeat_interleave(samples, 0)
            kl = (log_p_rep.exp() * (log_p_rep - log_q)).sum(-1)
            ekld.append(kl.view(len(base), samples).mean().item())
            consistency.append((log_p_rep.argmax(-1) == log_q.argmax(-1)).float().mean().item())
        t3 = time.perf_counter()
        t_transform += t1 - t0
        t_forward += t2 - t1
        t_kl += t3 - t2
    total = time.perf_counter() - t_start
    print(f"eKLD: {total:.2f} s (transform {t_transform:.2f}, forward {t_forward:.2f}, "
          f"KL {t_kl:.2f}); mean eKLD {np.mean(ekld):.3f}", file=sys.stderr)
    json.dump({"classes": classes, "images": int(len(labels)), "samples": samples,
               "threads": threads, "seconds": total, "transform_seconds": t_transform,
               "forward_seconds": t_forward, "kl_seconds": t_kl,
               "torch": torch.__version__}, open(out, "w"))


if __name__ == "__main__":
    main()
