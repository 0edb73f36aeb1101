"""Reference training epochs in PyTorch, as researchers write them, from the plain to the careful.

usage: ref_train.py DATA_DIR EPOCHS OUT_JSON [ARCH] [--loader dataloader|tensor]
                    [--channels-last] [--compile] [--device cpu|cuda|cuda:N]

ARCH: `small-cnn` (the plain layout a researcher writes: ReLU then pool, NCHW, the default),
`small-cnn-invlab-layout` (the same function in invlab's layout: pool then ReLU, channels-last
weights), `resnet20` or `resnet32` (He et al.'s CIFAR ResNets, as invlab's).

--loader dataloader (default): a map-style Dataset over the u8 images that converts each item on
  access (PIL image -> float tensor / 255 -> normalize, as torchvision's ToTensor + Normalize),
  a shuffling DataLoader with the default collate: the common tutorial pipeline.
--loader tensor: the careful user's pipeline: the whole training set normalised once into one
  float tensor on the device, each epoch a `torch.randperm` permutation, batches by indexing.
--channels-last: model and input batches in channels-last memory format.
--compile: `torch.compile(model)` (inductor); its compilation falls in the first epoch, which
  the benchmark leaves out (it reports the epochs after the first).

Every variant: batch 128, SGD momentum 0.9, weight decay 5e-4, cross-entropy, and the loss and
accuracy read back every batch (as invlab does for its progress display).
"""
import argparse
import json
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from common import SMALL_CNN_LAYOUTS, ResNet20, set_threads


class LTDataset(Dataset):
    def __init__(self, images, labels, mean, std):
        self.images, self.labels, self.mean, self.std = images, labels, mean, std

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        from PIL import Image
        img = self.images[i]
        # As torchvision datasets hold PIL images: grey (H x W) or RGB (H x W x C).
        pil = Image.fromarray(img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0))
        x = torch.from_numpy(np.array(pil, dtype=np.uint8))
        x = x.unsqueeze(0) if x.ndim == 2 else x.permute(2, 0, 1)
        x = x.float().div(255.0)
        x = (x - self.mean) / self.std
        return x, int(self.labels[i])


def tensor_batches(x, y, batch_size, device):
    """One epoch of shuffled batches from tensors already on the device."""
    order = torch.randperm(len(y), device=device)
    for start in range(0, len(y), batch_size):
        idx = order[start:start + batch_size]
        yield x.index_select(0, idx), y.index_select(0, idx)


def build_model(arch, channels, size, classes):
    if arch in ("small-cnn", "small-cnn-invlab-layout"):
        layout = "plain" if arch == "small-cnn" else "invlab"
        return SMALL_CNN_LAYOUTS[layout](channels=channels, size=size, classes=classes)
    if arch == "resnet20":
        return ResNet20(channels=channels, classes=classes, n=3)
    if arch == "resnet32":
        return ResNet20(channels=channels, classes=classes, n=5)
    raise SystemExit(f"ref_train.py: unknown arch {arch}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data_dir")
    ap.add_argument("epochs", type=int)
    ap.add_argument("out")
    ap.add_argument("arch", nargs="?", default="small-cnn")
    ap.add_argument("--loader", choices=["dataloader", "tensor"], default="dataloader")
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    threads = set_threads()
    torch.manual_seed(0)
    device = torch.device(args.device)
    images = np.load(f"{args.data_dir}/train_x.npy")
    labels = np.load(f"{args.data_dir}/train_y.npy")
    channels, size = images.shape[1], images.shape[2]
    flat = images.astype(np.float32) / 255.0
    mean, std = float(flat.mean()), float(flat.std())
    classes = int(labels.max()) + 1
    model = build_model(args.arch, channels, size, classes).to(device)
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    step_model = torch.compile(model) if args.compile else model
    if args.loader == "tensor":
        x_all = ((torch.from_numpy(flat) - mean) / std).to(device)
        x_all = x_all.contiguous(memory_format=memory_format)
        y_all = torch.from_numpy(labels).long().to(device)
        batches = lambda: tensor_batches(x_all, y_all, 128, device)  # noqa: E731
    else:
        loader = DataLoader(LTDataset(images, labels, mean, std), batch_size=128, shuffle=True,
                            num_workers=0)

        def batches():
            for x, y in loader:
                yield (x.to(device).contiguous(memory_format=memory_format), y.to(device))

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    seconds, load_seconds = [], []
    for epoch in range(args.epochs):
        model.train()
        sync()
        t0 = time.perf_counter()
        loading = 0.0
        loss_sum, correct, seen = 0.0, 0, 0
        t_fetch = time.perf_counter()
        for x, y in batches():
            loading += time.perf_counter() - t_fetch
            logits = step_model(x)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(y)
            correct += (logits.argmax(-1) == y).sum().item()
            seen += len(y)
            t_fetch = time.perf_counter()
        sync()
        seconds.append(time.perf_counter() - t0)
        load_seconds.append(loading)
        print(f"epoch {epoch + 1}: {seconds[-1]:.2f} s (data {loading:.2f} s), "
              f"loss {loss_sum / seen:.4f}, train acc {correct / seen:.3f}", file=sys.stderr)
    result = {"arch": args.arch, "loader": args.loader, "channels_last": args.channels_last,
              "compile": args.compile, "device": str(device), "images": int(len(labels)),
              "threads": threads, "epoch_seconds": seconds, "data_seconds": load_seconds,
              "torch": torch.__version__}
    if device.type == "cuda":
        result["peak_memory_bytes"] = torch.cuda.max_memory_allocated(device)
        result["gpu"] = torch.cuda.get_device_name(device)
    json.dump(result, open(args.out, "w"))


if __name__ == "__main__":
    main()
