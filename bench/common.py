"""Shared pieces of the Python (PyTorch) reference benchmarks: the same small CNN as invlab's
`small-cnn` (conv32-pool-conv64-pool-fc128, PyTorch default init) in two layouts (the plain
one a researcher writes, and invlab's), the same CIFAR-style ResNet-20
as invlab's `resnet20`, thread set-up, and the eKLD references' common data loading, per-class KL
and result file."""
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn


def set_threads():
    n = int(os.environ.get("OMP_NUM_THREADS", "2"))
    torch.set_num_threads(n)
    return n


class SmallCNN(nn.Module):
    def __init__(self, channels=1, size=28, classes=49):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * (size // 4) * (size // 4), 128), nn.ReLU(),
        )
        self.head = nn.Linear(128, classes)

    def forward(self, x):
        return self.head(self.features(x))


class SmallCNNInvlabLayout(SmallCNN):
    """The same function as `SmallCNN` in invlab's layout: each max-pool before its ReLU (they
    commute, forward and gradient) and the convolution weights stored channels-last, so
    oneDNN's channels-last kernels run and the activations stay channels-last up to the
    flatten (which reads them back in C x H x W order, as invlab's does)."""

    def __init__(self, channels=1, size=28, classes=49):
        super().__init__(channels, size, classes)
        conv1, _, _, conv2, _, _, flatten, fc, relu = self.features
        self.features = nn.Sequential(conv1, nn.MaxPool2d(2), nn.ReLU(), conv2, nn.MaxPool2d(2),
                                      nn.ReLU(), flatten, fc, relu)
        self.to(memory_format=torch.channels_last)


# The small CNN's layouts by name (ref_train.py's and ref_ekld_batched.py's `layout` argument).
SMALL_CNN_LAYOUTS = {"plain": SmallCNN, "invlab": SmallCNNInvlabLayout}


class BasicBlock(nn.Module):
    """He et al.'s CIFAR block with the parameter-free "option A" shortcut (stride-2 subsampling,
    zero-padded channels), bias-free 3x3 convs and batch norm, as Cao et al.'s LDAM code."""

    def __init__(self, inp, out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out)
        self.conv2 = nn.Conv2d(out, out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out)
        self.stride, self.pad = stride, out - inp

    def forward(self, x):
        out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        shortcut = x
        if self.stride != 1 or self.pad:
            p = self.pad // 2
            shortcut = nn.functional.pad(x[:, :, ::self.stride, ::self.stride],
                                         (0, 0, 0, 0, p, self.pad - p))
        return torch.relu(out + shortcut)


class ResNet20(nn.Module):
    def __init__(self, channels=1, classes=49, n=3):
        super().__init__()
        layers = [nn.Conv2d(channels, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()]
        inp = 16
        for stage, width in enumerate((16, 32, 64)):
            for block in range(n):
                layers.append(BasicBlock(inp, width, 2 if stage > 0 and block == 0 else 1))
                inp = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(64, classes)

    def forward(self, x):
        return self.head(self.features(x).mean((2, 3)))


def load_ekld_data(data_dir):
    """The held-out eKLD images (u8 N x C x H x W), their labels, the class count, and the
    training set's mean / std (the classifier's input normalisation), as exported by
    tools/src/export_dataset.rs."""
    images = np.load(f"{data_dir}/ekld_x.npy")
    labels = np.load(f"{data_dir}/ekld_y.npy")
    train = np.load(f"{data_dir}/train_x.npy").astype(np.float32) / 255.0
    return images, labels, int(labels.max()) + 1, float(train.mean()), float(train.std())


def ekld_model(classes, channels, size, layout="plain"):
    """The evaluated model: the small CNN (in `layout`, see SMALL_CNN_LAYOUTS) at PyTorch's
    default init under seed 0 (every eKLD reference uses the same weights; the timing does not
    depend on them)."""
    torch.manual_seed(0)
    return SMALL_CNN_LAYOUTS[layout](channels=channels, size=size, classes=classes).eval()


def class_kl(log_p, log_q, samples):
    """Mean KL(p(.|x) || p(.|x')) over a class's K base images x `samples` transformed copies
    (log_q ordered image by image), and the fraction whose argmax agrees with the base's."""
    log_p_rep = log_p.repeat_interleave(samples, 0)
    kl = (log_p_rep.exp() * (log_p_rep - log_q)).sum(-1)
    ekld = kl.view(len(log_p), samples).mean().item()
    consistency = (log_p_rep.argmax(-1) == log_q.argmax(-1)).float().mean().item()
    return ekld, consistency


def timed_classes(classes, samples, transform, forward, grad_off=torch.inference_mode):
    """The per-class eKLD loop both references share: `transform(c)` returns the class's base
    images and their `samples` transformed copies, `forward(images)` their log-probabilities.
    Returns per-class eKLD and consistency and the seconds spent transforming, forwarding and in
    the KL (summed over classes). Runs under `grad_off` (the paper-style reference uses
    `torch.no_grad`, the batched peer `torch.inference_mode`)."""
    ekld, consistency = [], []
    t_transform = t_forward = t_kl = 0.0
    with grad_off():
        for c in range(classes):
            t0 = time.perf_counter()
            base, moved = transform(c)
            t1 = time.perf_counter()
            log_p, log_q = forward(base), forward(moved)
            t2 = time.perf_counter()
            class_ekld, class_consistency = class_kl(log_p, log_q, samples)
            ekld.append(class_ekld)
            consistency.append(class_consistency)
            t3 = time.perf_counter()
            t_transform += t1 - t0
            t_forward += t2 - t1
            t_kl += t3 - t2
    return ekld, consistency, t_transform, t_forward, t_kl


def write_ekld_result(out, name, *, classes, images, samples, threads, total, transform,
                      forward, kl, ekld, **extra):
    print(f"{name}: {total:.2f} s (transform {transform:.2f}, forward {forward:.2f}, "
          f"KL {kl:.2f}); mean eKLD {np.mean(ekld):.4f}", file=sys.stderr)
    with open(out, "w") as f:
        json.dump({"classes": classes, "images": images, "samples": samples,
                   "threads": threads, "seconds": total, "transform_seconds": transform,
                   "forward_seconds": forward, "kl_seconds": kl,
                   "mean_ekld": float(np.mean(ekld)), "torch": torch.__version__, **extra}, f)
