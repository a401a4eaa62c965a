#!/usr/bin/env python3
"""Builds the metric fixtures of `tests/metrics_losses.rs` and their scikit-image references.

Writes, next to this script:
* `smooth_{target,pred}.npy` (32x32), `nonsquare_{target,pred}.npy` (40 rows x 28 columns),
  `camera_{target,pred}.npy` (48x48 crop of images/camera.png of the project's shared data): float32,
  C order, deterministic (numpy PCG64 seeded);
* `metric_references.json`: per pair, PSNR and SSIM with `data_range = target.max()` and NMSE, as
  fastMRI's evaluate.py computes them for a one-slice volume; and the fastMRI volume metrics of the
  2-slice 32x32 volume [smooth, centre 32x32 crop of camera].

References are computed from float64 copies of the stored float32 arrays: skimage would keep
float32 inputs in float32 (for these fixtures that moves SSIM and PSNR by less than 1e-7); the
float64 values are the exact metrics of the stored data. Run: `python3 make_metric_references.py` (numpy, scikit-image, Pillow).
"""
import json
from pathlib import Path

import numpy as np
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

HERE = Path(__file__).resolve().parent
CAMERA = HERE.parents[4] / "shared" / "data" / "images" / "camera.png"


def smooth_pair(rng, rows, cols, amplitude):
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float64)
    blob = np.exp(-((x - cols / 2) ** 2 + (y - rows / 3) ** 2) / 40.0)
    target = amplitude * (1.2 + np.sin(x / 3.1) * np.cos(y / 4.7) + 0.3 * blob)
    noise = rng.standard_normal(target.shape)
    pred = target + amplitude * (0.15 * np.sin(x / 2.0 + y / 5.0) + 0.05 * noise)
    return target, pred


def camera_pair(rng):
    image = np.asarray(Image.open(CAMERA), dtype=np.float64) / 255.0
    target = image[200:248, 240:288]
    pred = target + 0.04 * rng.standard_normal(target.shape)
    return target, pred


def pair_metrics(target, pred):
    target, pred = target.astype(np.float64), pred.astype(np.float64)
    return volume_metrics(target[None], pred[None])


def volume_metrics(target, pred):
    """fastMRI evaluate.py: volume max as data range, volume PSNR/NMSE, SSIM averaged over slices."""
    target, pred = target.astype(np.float64), pred.astype(np.float64)
    data_range = target.max()
    ssim = np.mean([structural_similarity(t, p, data_range=data_range) for t, p in zip(target, pred)])
    return {
        "data_range": float(data_range),
        "psnr": float(peak_signal_noise_ratio(target, pred, data_range=data_range)),
        "ssim": float(ssim),
        "nmse": float(np.linalg.norm(target - pred) ** 2 / np.linalg.norm(target) ** 2),
    }


def main():
    rng = np.random.default_rng(20261122)
    pairs = {
        "smooth": smooth_pair(rng, 32, 32, 1.0),
        "nonsquare": smooth_pair(rng, 40, 28, 3.0),
        "camera": camera_pair(rng),
    }
    references = {"pairs": {}}
    stored = {}
    for name, (target, pred) in pairs.items():
        target, pred = target.astype(np.float32), pred.astype(np.float32)
        np.save(HERE / f"{name}_target.npy", target)
        np.save(HERE / f"{name}_pred.npy", pred)
        stored[name] = (target, pred)
        references["pairs"][name] = {"shape": list(target.shape), **pair_metrics(target, pred)}

    crop = (slice(8, 40), slice(8, 40))
    volume_target = np.stack([stored["smooth"][0], stored["camera"][0][crop]])
    volume_pred = np.stack([stored["smooth"][1], stored["camera"][1][crop]])
    references["volume"] = {
        "slices": ["smooth", "camera[8:40, 8:40]"],
        **volume_metrics(volume_target, volume_pred),
    }
    (HERE / "metric_references.json").write_text(json.dumps(references, indent=2) + "\n")


if __name__ == "__main__":
    main()
