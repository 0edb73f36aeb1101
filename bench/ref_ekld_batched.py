"""The eKLD evaluation as a PyTorch user would batch it (the honest peer of invlab's eKLD):
the held-out images as one float tensor; per class, its K images each repeated SAMPLES times
and rotated in one call (`affine_grid` + `grid_sample(mode="bicubic", padding_mode="zeros",
align_corners=False)`, one uniform angle in [-180, 180) degrees per copy, counter-clockwise as
PIL's `rotate`, rounded and clamped to the u8 range), exactly as invlab's `transforms::rotate`
does; then normalised and run forward in 256-image batches under torch.inference_mode();
KL(p(.|x) || p(.|x')) and argmax consistency per class as bench/ref_ekld.py computes them,
with the same model weights.

usage: ref_ekld_batched.py DATA_DIR SAMPLES OUT_JSON [plain|invlab]   (the small CNN's layout,
                                                                    bench/common.py)
       ref_ekld_batched.py --check DATA_DIR   (rotation conventions against PIL; seconds)
"""
import math
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from common import ekld_model, load_ekld_data, set_threads, timed_classes, write_ekld_result

# invlab's metrics::FORWARD_BATCH: large batches make the first conv layer's output memory-bound.
FORWARD_BATCH = 256


def rotate(images, angles_deg):
    """Rotates float 0..255 images (N x C x H x W) counter-clockwise by their angles (degrees),
    bicubic, zero fill, back onto the u8 grid. The sampling grid maps output (x, y) to input
    R(-a)(x, y) in normalised coordinates with y pointing down, as invlab's theta does."""
    rad = angles_deg.double() * (math.pi / 180.0)
    s, c = torch.sin(rad).float(), torch.cos(rad).float()
    zero = torch.zeros_like(s)
    theta = torch.stack([c, -s, zero, s, c, zero], 1).view(-1, 2, 3)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    moved = F.grid_sample(images, grid, mode="bicubic", padding_mode="zeros",
                          align_corners=False)
    return moved.round_().clamp_(0.0, 255.0)


def main():
    data_dir, samples, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    layout = sys.argv[4] if len(sys.argv) > 4 else "plain"
    threads = set_threads()
    generator = torch.Generator().manual_seed(0)
    images_u8, labels_np, classes, mean, std = load_ekld_data(data_dir)
    model = ekld_model(classes, images_u8.shape[1], images_u8.shape[2], layout)

    def logits(batch):
        return model((batch / 255.0 - mean) / std)

    t_start = time.perf_counter()
    images = torch.from_numpy(images_u8).float()
    labels = torch.from_numpy(labels_np)
    t_transform = time.perf_counter() - t_start

    def transform(c):
        base = images[labels == c]
        repeated = base.repeat_interleave(samples, 0)
        angles = torch.rand(len(repeated), generator=generator, dtype=torch.float64)
        return base, rotate(repeated, angles * 360.0 - 180.0)

    def forward(batch):
        return torch.cat([F.log_softmax(logits(batch[i:i + FORWARD_BATCH]), -1)
                          for i in range(0, len(batch), FORWARD_BATCH)])

    ekld, _, t_classes_transform, t_forward, t_kl = timed_classes(
        classes, samples, transform, forward)
    t_transform += t_classes_transform
    total = time.perf_counter() - t_start
    write_ekld_result(out, "eKLD (PyTorch batched)", classes=classes, images=int(len(labels)),
                      samples=samples, threads=threads, total=total, transform=t_transform,
                      forward=t_forward, kl=t_kl, ekld=ekld, style="batched",
                      layout=layout, forward_batch=FORWARD_BATCH)


def check(data_dir):
    """Pins the rotation conventions invlab's tests pin (0 degrees is the identity, 90 degrees
    is out[i][j] = in[j][W-1-i]) and that the direction matches PIL's `rotate`: at random angles
    the result is far closer to PIL's rotation by the same angle than by its negative."""
    from PIL import Image
    images_u8 = load_ekld_data(data_dir)[0][:64]
    x = torch.from_numpy(images_u8).float()
    n = len(x)
    assert torch.equal(rotate(x, torch.zeros(n)), x), "0 degrees is not the identity"
    quarter = rotate(x, torch.full((n,), 90.0))
    assert (quarter - x.transpose(2, 3).flip(2)).abs().max() < 1e-3, "90 degrees is not CCW"
    angles = np.random.default_rng(1).uniform(-180.0, 180.0, n)
    ours = rotate(x, torch.from_numpy(angles)).numpy()

    def pil(sign):
        return np.stack([np.asarray(Image.fromarray(img[0]).rotate(
            sign * float(a), resample=Image.BICUBIC)) for img, a in zip(images_u8, angles)])
    same = np.abs(ours[:, 0] - pil(1)).mean()
    mirrored = np.abs(ours[:, 0] - pil(-1)).mean()
    print(f"mean |grid_sample - PIL| over {n} images: {same:.2f} grey levels at the same "
          f"angle, {mirrored:.2f} at the negated angle", file=sys.stderr)
    assert same < 0.25 * mirrored, "rotation direction differs from PIL's"
    # The two layouts of the small CNN are one function (same weights, same outputs).
    normalised = (x - x.mean()) / x.std()
    plain, invlab = (ekld_model(49, x.shape[1], x.shape[2], layout) for layout in ("plain", "invlab"))
    gap = (plain(normalised) - invlab(normalised)).abs().max().item()
    print(f"small CNN, plain vs invlab layout: max |logit difference| {gap:.2e}", file=sys.stderr)
    assert gap < 1e-4, "the two layouts compute different functions"


if __name__ == "__main__":
    if sys.argv[1] == "--check":
        check(sys.argv[2])
    else:
        main()
