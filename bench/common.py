"""Shared pieces of the Python (PyTorch) reference benchmarks: the same small CNN as invlab's
`small-cnn` (conv32-pool-conv64-pool-fc128, PyTorch default init) and thread set-up."""
import os

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
