"""Writes the tiny HDF5 fixtures of tests/readers.rs (run from this folder: python3 make_fixtures.py).

k-space values encode their index so the reader's order can be checked exactly:
  re = 1000 s + 100 c + 10 h + w,  im = -re   (slice s, coil c, row h, column w).
"""

import h5py
import numpy as np


def coded(slices, coils, height, width):
    s, c, h, w = np.meshgrid(
        np.arange(slices), np.arange(coils), np.arange(height), np.arange(width), indexing="ij"
    )
    re = (1000 * s + 100 * c + 10 * h + w).astype(np.float32)
    return re, -re


# fastMRI multi-coil: complex64 (h5py compound {r, i}), 2 slices, 3 coils, 8x6, with a target.
re, im = coded(2, 3, 8, 6)
with h5py.File("fastmri_ri_multicoil.h5", "w", libver="earliest") as f:
    f.create_dataset("kspace", data=(re + 1j * im).astype(np.complex64))
    f.create_dataset("reconstruction_rss", data=np.arange(2 * 4 * 3, dtype=np.float32).reshape(2, 4, 3))
    f.attrs["max"] = np.float64(0.5)
    f.attrs["norm"] = np.float64(2.25)
    f.attrs["acquisition"] = "CORPD_FBK"

# ISMRMRD-style compound {real, imag}, single-coil (2 slices, 8x6), fixed-length string attribute.
re, im = coded(2, 1, 8, 6)
ismrmrd = np.dtype([("real", "<f4"), ("imag", "<f4")])
kspace = np.empty((2, 8, 6), dtype=ismrmrd)
kspace["real"], kspace["imag"] = re[:, 0], im[:, 0]
with h5py.File("ismrmrd_real_imag.h5", "w", libver="earliest") as f:
    f.create_dataset("kspace", data=kspace)
    f.attrs["acquisition"] = np.bytes_("AXT2")

# Unknown field names {re, im}: must be refused, not read as zeros.
unknown = np.dtype([("re", "<f4"), ("im", "<f4")])
with h5py.File("unknown_fields.h5", "w", libver="earliest") as f:
    f.create_dataset("kspace", data=np.ones((1, 2, 4, 4), dtype=unknown))

# float64 with a trailing (re, im) axis: 1 slice, 2 coils, 4x4.
re, im = coded(1, 2, 4, 4)
with h5py.File("interleaved_float64.h5", "w", libver="earliest") as f:
    f.create_dataset("kspace", data=np.stack([re, im], axis=-1).astype(np.float64))
