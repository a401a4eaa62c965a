"""Builds brain_multicoil.h5, a small multi-coil file in fastMRI's layout, from two axial slices of
the shipped Colin27 volume that the quickstart never trains on (slices 135 and 140; it trains on
40..130). Run from this folder: python3 make_brain_fastmri.py (needs numpy and h5py).

What a fastMRI brain file has, in miniature:
* `kspace` (slices, coils, H, W) complex64, fully sampled, centred orthonormal 2D FFT
  (fastMRI's fft2c), with 2x readout oversampling: the 96x96 field of view lies in a 192x96 grid
  along the readout (rows);
* `reconstruction_rss` (slices, 96, 96) float32: the RSS of the fully sampled coil images,
  centre-cropped to the field of view;
* attributes `acquisition`, `max` (of reconstruction_rss) and `norm` (of the k-space).
The object gets a smooth phase, 8 coils have smooth complex sensitivities (Gaussian-weighted loops
around the head, not the birdcage maps the Rust simulator uses), and complex Gaussian noise is added.
"""

import gzip
import struct

import h5py
import numpy as np

rng = np.random.default_rng(20261203)
raw = gzip.open("../brain/ch2.nii.gz", "rb").read()
dims = struct.unpack("<8h", raw[40:56])
datatype = struct.unpack("<h", raw[70:72])[0]
vox_offset = int(struct.unpack("<f", raw[108:112])[0])
assert datatype == 2, "uint8 volume expected"
nx, ny, nz = dims[1:4]
volume = np.frombuffer(raw[vox_offset : vox_offset + nx * ny * nz], dtype=np.uint8).reshape((nz, ny, nx))

fov, readout, coils = 96, 192, 8
images = []
for z in (135, 140):
    plane = volume[z].astype(np.float64)  # [y, x]
    top, left = (ny - fov) // 2, (nx - fov) // 2
    images.append(plane[top : top + fov, left : left + fov])
images = np.stack(images) / 254.0

yy, xx = np.meshgrid(np.linspace(-1, 1, readout), np.linspace(-1, 1, fov), indexing="ij")
yy = yy * readout / fov  # the oversampled grid extends beyond the field of view along rows

def fft2c(x):
    return np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(x, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))

def ifft2c(k):
    return np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(k, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))

maps = []
for c in range(coils):
    angle = 2 * np.pi * c / coils + 0.3
    cy, cx = 1.4 * np.sin(angle), 1.4 * np.cos(angle)
    distance2 = (yy - cy) ** 2 + (xx - cx) ** 2
    maps.append(np.exp(-distance2 / 2.0) * np.exp(1j * (angle + 0.5 * (xx * np.cos(angle) + yy * np.sin(angle)))))
maps = np.stack(maps)
maps /= np.sqrt((np.abs(maps) ** 2).sum(0, keepdims=True))

kspace, targets = [], []
for image in images:
    padded = np.zeros((readout, fov), dtype=np.complex128)
    start = (readout - fov) // 2
    phase = 0.4 * (xx[start : start + fov] + 0.5 * yy[start : start + fov] ** 2)
    padded[start : start + fov] = image * np.exp(1j * phase)
    k = fft2c(maps * padded[None])
    sigma = 0.002 * np.abs(k).max()
    k = k + sigma * (rng.standard_normal(k.shape) + 1j * rng.standard_normal(k.shape))
    kspace.append(k)
    rss = np.sqrt((np.abs(ifft2c(k)) ** 2).sum(0))
    targets.append(rss[start : start + fov])
kspace = np.stack(kspace).astype(np.complex64)
targets = np.stack(targets).astype(np.float32)

with h5py.File("brain_multicoil.h5", "w", libver="earliest") as f:
    f.create_dataset("kspace", data=kspace)
    f.create_dataset("reconstruction_rss", data=targets)
    f.attrs["acquisition"] = "AXT1"
    f.attrs["max"] = float(targets.max())
    f.attrs["norm"] = float(np.linalg.norm(targets))
print(kspace.shape, targets.shape, targets.max())
