"""Writes the HDF5 fixtures of the end-to-end tests (run from this folder: python3 make_fixtures.py)."""

import h5py
import numpy as np

# All-zero multi-coil k-space (1 slice, 4 coils, 32x32): inference must give a defined zero output.
with h5py.File("kspace_zero.h5", "w", libver="earliest") as f:
    f.create_dataset("kspace", data=np.zeros((1, 4, 32, 32), dtype=np.complex64))
