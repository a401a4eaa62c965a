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
