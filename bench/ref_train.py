"""Reference training epoch, written as a typical PyTorch researcher writes it: a map-style
Dataset over the u8 images that converts each item on access (PIL image -> float tensor / 255 ->
normalize, as torchvision's ToTensor + Normalize do), a shuffling DataLoader with the default
collate, batch 128, SGD momentum 0.9, weight decay 5e-4, cross-entropy, and the loss/accuracy
read back every batch (as invlab does for its progress display).

usage: ref_train.py DATA_DIR EPOCHS OUT_JSON [small-cnn|small-cnn-invlab-layout|resnet20]

`small-cnn` is the plain layout a researcher writes (ReLU then pool, NCHW); `small-cnn-invlab-layout`
the same function in invlab's layout (pool then ReLU, channels-last weights), which splits
the epoch ratio into what the layout buys and what the rest of the pipeline buys.
"""
import json
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from common import SMALL_CNN_LAYOUTS, ResNet20, set_threads


class LTDataset(Dataset):
    def __init__(self, images, labels, mean, std):
        self.images, self.labels, self.mean, self.std = images, labels, mean, std

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        img = Image.fromarray(self.images[i, 0])  # as torchvision datasets hold PIL images
        x = torch.from_numpy(np.array(img, dtype=np.uint8)).unsqueeze(0).float().div(255.0)
        x = (x - self.mean) / self.std
        return x, int(self.labels[i])


def main():
    data_dir, epochs, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    arch = sys.argv[4] if len(sys.argv) > 4 else "small-cnn"
    threads = set_threads()
    torch.manual_seed(0)
    images = np.load(f"{data_dir}/train_x.npy")
    labels = np.load(f"{data_dir}/train_y.npy")
    flat = images.astype(np.float32) / 255.0
    mean, std = float(flat.mean()), float(flat.std())
    loader = DataLoader(LTDataset(images, labels, mean, std), batch_size=128, shuffle=True,
                        num_workers=0)
    classes = int(labels.max()) + 1
    model = {"small-cnn": SMALL_CNN_LAYOUTS["plain"],
             "small-cnn-invlab-layout": SMALL_CNN_LAYOUTS["invlab"],
             "resnet20": ResNet20}[arch](classes=classes)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    seconds, load_seconds = [], []
    for epoch in range(epochs):
        model.train()
        t0 = time.perf_counter()
        loading = 0.0
        loss_sum, correct, seen = 0.0, 0, 0
        t_fetch = time.perf_counter()
        for x, y in loader:
            loading += time.perf_counter() - t_fetch
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(y)
            correct += (logits.argmax(-1) == y).sum().item()
            seen += len(y)
            t_fetch = time.perf_counter()
        seconds.append(time.perf_counter() - t0)
        load_seconds.append(loading)
        print(f"epoch {epoch + 1}: {seconds[-1]:.2f} s (data {loading:.2f} s), "
              f"loss {loss_sum / seen:.4f}, train acc {correct / seen:.3f}", file=sys.stderr)
    json.dump({"arch": arch, "images": int(len(labels)), "threads": threads, "epoch_seconds": seconds,
               "data_seconds": load_seconds, "torch": torch.__version__}, open(out, "w"))


if __name__ == "__main__":
    main()
