"""Writes the HDF5 fixtures of the end-to-end tests (run from this folder: python3 make_fixtures.py)."""

import h5py
import numpy as np

# All-zero multi-coil k-space (1 slice, 4 coils, 32x32): inference must give a defined zero output.
with h5py.File("kspace_zero.h5", "w", libver="earliest") as f:
    f.create_dataset("kspace", data=np.zeros((1, 4, 32, 32), dtype=np.complex64))

# Single-coil fastMRI layout (knee single-coil files): kspace (slices, H, W) complex64 of a smooth
# phantom with 2x readout oversampling (64x32, field of view 32x32), reconstruction_esc (slices, 32, 32).
yy, xx = np.meshgrid(np.linspace(-2, 2, 64), np.linspace(-1, 1, 32), indexing="ij")
slices = []
for s in range(2):
    phantom = ((xx / 0.8) ** 2 + (yy / 0.9) ** 2 < 1).astype(np.float64) * (0.6 + 0.3 * np.cos(3 * xx + s))
    phantom += 0.4 * (((xx - 0.2) / 0.3) ** 2 + ((yy + 0.3) / 0.2) ** 2 < 1)
    slices.append(phantom)
phantom = np.stack(slices)
kspace = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(phantom, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))
with h5py.File("singlecoil.h5", "w", libver="earliest") as f:
    f.create_dataset("kspace", data=kspace.astype(np.complex64))
    f.create_dataset("reconstruction_esc", data=np.abs(phantom[:, 16:48]).astype(np.float32))
    f.attrs["acquisition"] = "CORPD_FBK"

# Multi-coil fastMRI layout with a `sensitivity_map` (as preprocessed data sets ship them): the same
# phantom seen by 4 coils with smooth complex maps (normalised, sum |S|^2 = 1), 2x readout
# oversampling (64x32 grid, 32x32 field of view), kspace and sensitivity_map (slices, 4, 64, 32)
# complex64, reconstruction_rss (slices, 32, 32).
maps = []
for c in range(4):
    angle = 2 * np.pi * c / 4 + 0.2
    distance2 = (yy - 1.5 * np.sin(angle)) ** 2 + (xx - 1.5 * np.cos(angle)) ** 2
    maps.append(np.exp(-distance2 / 2.0) * np.exp(1j * (angle + 0.5 * xx)))
maps = np.stack(maps)
maps /= np.sqrt((np.abs(maps) ** 2).sum(0, keepdims=True))
coil_images = maps[None] * phantom[:, None]
kspace = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(coil_images, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))
rss = np.sqrt((np.abs(coil_images) ** 2).sum(1))[:, 16:48]
with h5py.File("multicoil_maps.h5", "w", libver="earliest") as f:
    f.create_dataset("kspace", data=kspace.astype(np.complex64))
    f.create_dataset("sensitivity_map", data=np.broadcast_to(maps, kspace.shape).astype(np.complex64))
    f.create_dataset("reconstruction_rss", data=rss.astype(np.float32))
    f.attrs["acquisition"] = "AXT1"
