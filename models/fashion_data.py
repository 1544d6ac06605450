"""Fashion-MNIST from Debian's dataset-fashion-mnist package, as numpy arrays.

Tooling only (model training, fixtures); flipcheck itself never runs Python.
"""
import gzip
import os

import numpy as np

DATASET_DIR = "/usr/share/datasets/fashion-mnist"

CLASSES = [
    "t-shirt", "trouser", "pullover", "dress", "coat",
    "sandal", "shirt", "sneaker", "bag", "ankle-boot",
]


def _read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    ndim = magic & 0xFF
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(split):
    """('train' | 't10k') -> (uint8 [N,28,28], int64 [N])."""
    if not os.path.isdir(DATASET_DIR):
        raise SystemExit(f"{DATASET_DIR} missing: apt-get install dataset-fashion-mnist")
    images = _read_idx(os.path.join(DATASET_DIR, f"{split}-images-idx3-ubyte.gz"))
    labels = _read_idx(os.path.join(DATASET_DIR, f"{split}-labels-idx1-ubyte.gz"))
    return images.copy(), labels.astype(np.int64)
