#!/usr/bin/python3
"""Builds the bundled images from Debian's dataset-fashion-mnist package.

Tooling only; the PNGs are committed so the default run needs no Python.

    /usr/bin/python3 images/make_fashion_pngs.py

images/fashion/test/<k>-<class>/<index>.png   the first 100 test images of
                                              each class (1000 in all);
                                              <index> is the test-set index.
images/fashion/calib/<k>-<class>/<index>.png  the first 256 training images
                                              (never test images).
Folder names start with the label so that sorting them by name gives the
label index, as PyTorch's ImageFolder does.  PNGs are 8-bit grayscale,
written with zlib here so no imaging library is needed.
"""
import os
import shutil
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "models"))
import fashion_data  # noqa: E402


def png_gray8(pixels):
    """uint8 [H,W] -> PNG bytes (color type 0, depth 8, filter 0 per row)."""
    h, w = pixels.shape

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + pixels[r].tobytes() for r in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def class_dir(label):
    return f"{label}-{fashion_data.CLASSES[label]}"


def write_set(root, images, labels, indices):
    shutil.rmtree(root, ignore_errors=True)
    for i in indices:
        d = os.path.join(root, class_dir(int(labels[i])))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"{i:05d}.png"), "wb") as f:
            f.write(png_gray8(images[i]))


def main():
    out = os.path.join(HERE, "fashion")
    x, y = fashion_data.load("t10k")
    per_class = {k: [] for k in range(10)}
    for i, label in enumerate(y):
        if len(per_class[int(label)]) < 100:
            per_class[int(label)].append(i)
    write_set(os.path.join(out, "test"), x, y, sorted(sum(per_class.values(), [])))
    xt, yt = fashion_data.load("train")
    write_set(os.path.join(out, "calib"), xt, yt, range(256))
    print(f"wrote {out}/test (1000 images) and {out}/calib (256 images)")


if __name__ == "__main__":
    main()
