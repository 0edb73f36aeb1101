"""Reference eKLD evaluation in the style of the paper's code: for each class, each of its
held-out images is rotated by 100 random angles with PIL (`Image.rotate(angle,
resample=BICUBIC)`) in a Python loop; the class's 4,000 transformed images form one batch;
the small CNN runs forward under torch.no_grad() on the base images and on the batch; then
KL(p(.|x) || p(.|x')) and argmax consistency per class. bench/ref_ekld_batched.py is the same
evaluation written the batched way.

usage: ref_ekld.py DATA_DIR SAMPLES OUT_JSON
"""
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from common import ekld_model, load_ekld_data, set_threads, timed_classes, write_ekld_result


def main():
    data_dir, samples, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    threads = set_threads()
    rng = np.random.default_rng(0)
    images, labels, classes, mean, std = load_ekld_data(data_dir)
    model = ekld_model(classes, images.shape[1], images.shape[2])

    def prep(batch_u8):
        return (torch.from_numpy(batch_u8).float().div(255.0) - mean) / std

    def transform(c):
        base = images[labels == c]  # K x 1 x H x W u8
        moved = []
        for img in base:
            pil = Image.fromarray(img[0])
            for angle in rng.uniform(-180.0, 180.0, samples):
                moved.append(np.asarray(pil.rotate(float(angle), resample=Image.BICUBIC)))
        return base, np.stack(moved)[:, None]  # (K * samples) x 1 x H x W

    t_start = time.perf_counter()
    ekld, _, t_transform, t_forward, t_kl = timed_classes(
        classes, samples, transform, lambda batch: F.log_softmax(model(prep(batch)), -1),
        grad_off=torch.no_grad)
    total = time.perf_counter() - t_start
    write_ekld_result(out, "eKLD (PIL, paper style)", classes=classes, images=int(len(labels)),
                      samples=samples, threads=threads, total=total, transform=t_transform,
                      forward=t_forward, kl=t_kl, ekld=ekld, style="pil")


if __name__ == "__main__":
    main()
