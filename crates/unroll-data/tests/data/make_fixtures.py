"""Writes the tiny HDF5 fixtures of tests/readers.rs (run from this folder: python3 make_fixtures.py).

k-space values encode their index so the reader's order can be checked exactly:
  re = 1000 s + 100 c + 10 h + w,  im = -re   (slice s, coil c, row h, column w).
Targets (reconstruction_rss / _esc) hold their flat C-order index: target[s, y, x] = (s * h + y) * w + x.

Written by h5py 3.16 (HDF5 2.0.0). Every file is a few KiB; the real-data copies of this folder
(README.md) are made by shrink_real_data.py, not here.
"""

import h5py
import numpy as np


def coded(slices, coils, height, width):
    s, c, h, w = np.meshgrid(
        np.arange(slices), np.arange(coils), np.arange(height), np.arange(width), indexing="ij"
    )
    re = (1000 * s + 100 * c + 10 * h + w).astype(np.float32)
    return re, -re


def target(slices, height, width, dtype=np.float32):
    return np.arange(slices * height * width, dtype=dtype).reshape(slices, height, width)


def multicoil(name, libver="earliest", kspace_nan=None, **storage):
    """fastMRI multi-coil: complex64 (h5py compound {r, i}), 2 slices, 3 coils, 8x6, with a target
    (chunked a slice per chunk when k-space is, with the same filters)."""
    re, im = coded(2, 3, 8, 6)
    kspace = (re + 1j * im).astype(np.complex64)
    if kspace_nan is not None:
        kspace[kspace_nan] = complex(np.nan, 0.0)
    with h5py.File(name, "w", libver=libver) as f:
        f.create_dataset("kspace", data=kspace, **storage)
        target_storage = {**storage, "chunks": (1, 4, 3)} if "chunks" in storage else {}
        f.create_dataset("reconstruction_rss", data=target(2, 4, 3), **target_storage)
        f.attrs["max"] = np.float64(0.5)
        f.attrs["norm"] = np.float64(2.25)
        f.attrs["acquisition"] = "CORPD_FBK"  # h5py: variable-length UTF-8 string


# Contiguous storage, the oldest file format h5py can write.
multicoil("fastmri_ri_multicoil.h5")

# The same with kspace[1, 2, 3, 4] = NaN + 0j (must be refused, naming that index).
multicoil("fastmri_nan.h5", kspace_nan=(1, 2, 3, 4))

# Chunked + shuffle + gzip, one chunk per (slice, coil) plane for k-space (3 slices, 2 coils, 8x6)
# and per slice for the f32 target; float32 attributes, fixed-length ASCII acquisition.
re, im = coded(3, 2, 8, 6)
with h5py.File("fastmri_chunked_gzip.h5", "w", libver="earliest") as f:
    f.create_dataset(
        "kspace",
        data=(re + 1j * im).astype(np.complex64),
        chunks=(1, 1, 8, 6),
        compression="gzip",
        compression_opts=4,
        shuffle=True,
    )
    f.create_dataset(
        "reconstruction_rss", data=target(3, 4, 3), chunks=(1, 4, 3), compression="gzip", shuffle=True
    )
    f.attrs["max"] = np.float32(1.5)
    f.attrs["norm"] = np.float32(0.25)
    f.attrs["acquisition"] = np.bytes_("CORPDFS_FBK")

# The newest file formats. libver="latest" (HDF5 2.0's v200 bounds: version 3 superblock, version 2
# object headers) with contiguous storage, the same content as fastmri_ri_multicoil.h5; the same with
# chunked + gzip storage, whose data layout message HDF5 2.0 writes as version 5, which hdf5-pure
# 0.47 does not read; and libver="v114" (HDF5 1.14's newest format: version 4 layouts, fixed-array
# chunk index) chunked + shuffle + gzip, which it reads.
multicoil("fastmri_latest.h5", libver="latest")
multicoil("fastmri_latest_chunked.h5", libver="latest", chunks=(1, 3, 8, 6), compression="gzip")
multicoil("fastmri_v114_chunked.h5", libver="v114", chunks=(1, 1, 8, 6), compression="gzip", shuffle=True)

# A virtual dataset (VDS, HDF5 1.10+) as k-space: a layout hdf5-pure does not read.
re, im = coded(1, 1, 4, 4)
with h5py.File("unsupported_virtual.h5", "w", libver="latest") as f:
    source = f.create_dataset("source", data=(re + 1j * im).astype(np.complex64))
    layout = h5py.VirtualLayout(shape=source.shape, dtype=source.dtype)
    layout[...] = h5py.VirtualSource(source)
    f.create_virtual_dataset("kspace", layout)

# ISMRMRD-style compound {real, imag}, single-coil (2 slices, 8x6), fixed-length string attribute.
re, im = coded(2, 1, 8, 6)
ismrmrd = np.dtype([("real", "<f4"), ("imag", "<f4")])
kspace = np.empty((2, 8, 6), dtype=ismrmrd)
kspace["real"], kspace["imag"] = re[:, 0], im[:, 0]
with h5py.File("ismrmrd_real_imag.h5", "w", libver="earliest") as f:
    f.create_dataset("kspace", data=kspace)
    f.attrs["acquisition"] = np.bytes_("AXT2")

# {real, imag} as float64, fields in the other order and with padding between them (offsets imag 0,
# real 16, record 24 bytes), single-coil with a float64 reconstruction_esc target.
re, im = coded(1, 1, 4, 4)
padded = np.dtype({"names": ["imag", "real"], "formats": ["<f8", "<f8"], "offsets": [0, 16], "itemsize": 24})
kspace = np.zeros((1, 4, 4), dtype=padded)
kspace["real"], kspace["imag"] = re[:, 0], im[:, 0]
with h5py.File("ismrmrd_padded_float64.h5", "w", libver="earliest") as f:
    f.create_dataset("kspace", data=kspace)
    f.create_dataset("reconstruction_esc", data=target(1, 2, 2, dtype=np.float64))

# Unknown field names {re, im}: must be refused, not read as zeros.
unknown = np.dtype([("re", "<f4"), ("im", "<f4")])
with h5py.File("unknown_fields.h5", "w", libver="earliest") as f:
    f.create_dataset("kspace", data=np.ones((1, 2, 4, 4), dtype=unknown))

# float64 with a trailing (re, im) axis: 1 slice, 2 coils, 4x4.
re, im = coded(1, 2, 4, 4)
with h5py.File("interleaved_float64.h5", "w", libver="earliest") as f:
    f.create_dataset("kspace", data=np.stack([re, im], axis=-1).astype(np.float64))

# float32 with a trailing (re, im) axis, single-coil: 2 slices, 4x4; an Inf in the target at [1, 0, 1].
re, im = coded(2, 1, 4, 4)
with h5py.File("interleaved_float32_inf_target.h5", "w", libver="earliest") as f:
    f.create_dataset("kspace", data=np.stack([re[:, 0], im[:, 0]], axis=-1).astype(np.float32))
    bad = target(2, 2, 2)
    bad[1, 0, 1] = -np.inf
    f.create_dataset("reconstruction_esc", data=bad)

# k-space of the wrong rank (a single 8x6 plane), and a file with no k-space at all.
re, im = coded(1, 1, 8, 6)
with h5py.File("bad_shape.h5", "w", libver="earliest") as f:
    f.create_dataset("kspace", data=(re + 1j * im).astype(np.complex64)[0, 0])
with h5py.File("no_kspace.h5", "w", libver="earliest") as f:
    f.create_dataset("reconstruction_rss", data=target(1, 4, 3))

# A coil-sensitivity dataset beside k-space (DIRECT/ATOMMIC files carry one): `sensitivity_map` is
# complex64 like k-space, coded with im = +re / 2 (1 slice, 2 coils, 4x4); a second file has one of
# the wrong shape.
re, im = coded(1, 2, 4, 4)
with h5py.File("fastmri_sensitivity_map.h5", "w", libver="earliest") as f:
    f.create_dataset("kspace", data=(re + 1j * im).astype(np.complex64))
    f.create_dataset("sensitivity_map", data=(re + 0.5j * re).astype(np.complex64))
with h5py.File("fastmri_sensitivity_map_bad.h5", "w", libver="earliest") as f:
    f.create_dataset("kspace", data=(re + 1j * im).astype(np.complex64))
    f.create_dataset("sensitivity_map", data=np.ones((1, 3, 4, 4), dtype=np.complex64))
