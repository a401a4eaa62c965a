"""Cuts the patch sets of datasets/patches/ from the shipped photos and CT slice (numpy only).

photos32.npy: uint8 [750, 32, 32]; 500 patches of brick, camera, coins, grass, gravel and text, then
250 of cell and chelsea (its luma), at seeded random positions.
ct32.npy / ct64.npy: uint8 [750, 32, 32] / [500, 64, 64]; patches of the CT head slice
(datasets/ct/693_UNCI.dcm, Hounsfield units windowed to [-1024, 1000] -> [0, 255]) whose mean
is above -500 HU: the training pool (500 / 300) from the upper half of the slice, then the
held-out patches (250 / 200) from the lower half, so the two never overlap.
Run from the repository root: python3 datasets/patches/make_patches.py
"""
import struct
import zlib

import numpy as np


def read_png(path):
    """8-bit grey or RGB(A), non-interlaced PNG -> uint8 [H, W] (luma for colour)."""
    data = open(path, "rb").read()
    pos, chunks, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and interlace == 0, path
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    raw = zlib.decompress(b"".join(chunks))
    stride = width * channels
    out = np.zeros((height, stride), np.int32)
    previous = np.zeros(stride, np.int32)
    for row in range(height):
        kind = raw[row * (stride + 1)]
        line = np.frombuffer(raw, np.uint8, stride, row * (stride + 1) + 1).astype(np.int32)
        current = np.zeros(stride, np.int32)
        for i in range(stride):
            left = current[i - channels] if i >= channels else 0
            up = previous[i]
            upleft = previous[i - channels] if i >= channels else 0
            if kind == 0:
                predictor = 0
            elif kind == 1:
                predictor = left
            elif kind == 2:
                predictor = up
            elif kind == 3:
                predictor = (left + up) // 2
            else:
                p = left + up - upleft
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - upleft)
                predictor = left if pa <= pb and pa <= pc else (up if pb <= pc else upleft)
            current[i] = (line[i] + predictor) & 0xFF
        out[row] = current
        previous = current
    image = out.reshape(height, width, channels).astype(np.float64)
    if channels >= 3:
        image = image[..., :3] @ np.array([0.299, 0.587, 0.114])
    else:
        image = image[..., 0]
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def read_ct_slice(path):
    """The 512x512 slice of 693_UNCI.dcm in HU: its pixel data are the last 512*512 int16 values."""
    data = open(path, "rb").read()
    pixels = np.frombuffer(data[-512 * 512 * 2:], "<i2").reshape(512, 512).astype(np.float64)
    return pixels - 1024.0


def patches(image, size, count, rng, rows=None, keep=lambda p: True):
    rows = rows or (0, image.shape[0])
    out = []
    while len(out) < count:
        r = rng.integers(rows[0], rows[1] - size + 1)
        c = rng.integers(0, image.shape[1] - size + 1)
        patch = image[r:r + size, c:c + size]
        if keep(patch):
            out.append(patch)
    return out


rng = np.random.default_rng(10)
train = ["brick", "camera", "coins", "grass", "gravel", "text"]
held_out = ["cell", "chelsea"]
photos = [read_png(f"datasets/photos/{name}.png") for name in train + held_out]
pool = [p for image in photos[:6] for p in patches(image, 32, 84, rng)][:500]
val = [p for image in photos[6:] for p in patches(image, 32, 125, rng)]
np.save("datasets/patches/photos32.npy", np.stack(pool + val).astype(np.uint8))

hu = read_ct_slice("datasets/ct/693_UNCI.dcm")
windowed = np.clip((hu + 1024.0) / 2024.0 * 255.0, 0, 255).round().astype(np.uint8)
tissue = lambda p: p.mean() > (1024.0 - 500.0) / 2024.0 * 255.0
for size, n_train, n_val in [(32, 500, 250), (64, 300, 200)]:
    top = patches(windowed, size, n_train, rng, (0, 256), tissue)
    bottom = patches(windowed, size, n_val, rng, (256, 512), tissue)
    np.save(f"datasets/patches/ct{size}.npy", np.stack(top + bottom))
