#!/usr/bin/python3
"""Trains flipcheck's four bundled Fashion-MNIST classifiers and exports them.

Tooling only: run once by a developer (Debian python3-torch, CPU); the .onnx
files are committed so users never need Python.  Architectures follow the
peer models (../shared/peers/README.md): the same layers, so our numbers on
the bundled models are comparable with what PyTorch and ONNX Runtime do on
the peers.

    /usr/bin/python3 models/train.py [--epochs 4] [--only cnn] [--out models]

Writes models/<name>.onnx (opset 13, dynamic batch axis N, input `input`
[N,1,28,28] float in [0,1], output `logits` [N,10]) and
models/accuracy.json (accuracy on the 10,000 test images).
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fashion_data  # noqa: E402


def mlp():
    return nn.Sequential(
        nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
        nn.Linear(128, 10))


def cnn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))


def conv_bn(cin, cout, k, stride, groups=1):
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout))


class Block(nn.Module):
    """Basic residual block; a 1x1 projection when the shape changes."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = conv_bn(cin, cout, 3, stride)
        self.c2 = conv_bn(cout, cout, 3, 1)
        self.proj = conv_bn(cin, cout, 1, stride) if (stride != 1 or cin != cout) else None
        self.relu = nn.ReLU()

    def forward(self, x):
        y = self.c2(self.relu(self.c1(x)))
        return self.relu(y + (self.proj(x) if self.proj is not None else x))


def resnet():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        Block(16, 16, 1), Block(16, 32, 2), Block(32, 64, 2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def dw_pw(cin, cout, stride):
    """Depthwise 3x3 then pointwise 1x1, each with BatchNorm and ReLU6."""
    return nn.Sequential(
        nn.Conv2d(cin, cin, 3, stride=stride, padding=1, groups=cin, bias=False),
        nn.BatchNorm2d(cin), nn.ReLU6(),
        nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU6())


def mobilenet():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU6(),
        dw_pw(16, 32, 2), dw_pw(32, 64, 1), dw_pw(64, 64, 2), dw_pw(64, 128, 1),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 10))


ARCHS = {"mlp": mlp, "cnn": cnn, "resnet": resnet, "mobilenet": mobilenet}


def accuracy(model, x, y):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), 1000):
            correct += (model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item()
    return correct / len(x)


def bundled_indices():
    """Test-set indices of the bundled images (images/fashion/test/<k>-<class>/<index>.png)."""
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "images", "fashion",
                        "test")
    return sorted(int(f[:-4]) for d in os.listdir(root)
                  for f in os.listdir(os.path.join(root, d)) if f.endswith(".png"))


def train(name, epochs, seed, xtr, ytr, xte, yte):
    torch.manual_seed(seed)
    model = ARCHS[name]()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        model.train()
        t0 = time.time()
        perm = torch.randperm(len(xtr), generator=gen)
        for i in range(0, len(xtr), 128):
            idx = perm[i:i + 128]
            opt.zero_grad()
            loss_fn(model(xtr[idx]), ytr[idx]).backward()
            opt.step()
        print(f"{name}: epoch {epoch + 1}/{epochs} {time.time() - t0:.0f}s "
              f"test acc {accuracy(model, xte, yte):.4f}", flush=True)
    model.eval()
    return model


def export(model, path):
    dummy = torch.zeros(1, 1, 28, 28)
    torch.onnx.export(model, dummy, path, opset_version=13, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "N"},
                                                             "logits": {0: "N"}},
                      do_constant_folding=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", choices=sorted(ARCHS))
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    xtr, ytr = fashion_data.load("train")
    xte, yte = fashion_data.load("t10k")
    to_t = lambda a: torch.from_numpy(a.astype(np.float32)[:, None] / 255.0)  # noqa: E731
    xtr, xte = to_t(xtr), to_t(xte)
    ytr, yte = torch.from_numpy(ytr), torch.from_numpy(yte)

    acc_path = os.path.join(args.out, "accuracy.json")
    results = json.load(open(acc_path)) if os.path.exists(acc_path) else {}
    for name in ([args.only] if args.only else list(ARCHS)):
        model = train(name, args.epochs, args.seed, xtr, ytr, xte, yte)
        path = os.path.join(args.out, f"{name}.onnx")
        export(model, path)
        idx = torch.tensor(bundled_indices())
        results[name] = {
            "test_accuracy_10k": round(accuracy(model, xte, yte), 4),
            "bundled_1000_accuracy": round(accuracy(model, xte[idx], yte[idx]), 4),
            "epochs": args.epochs, "seed": args.seed, "torch": torch.__version__,
            "bytes": os.path.getsize(path)}
        print(f"{name}: wrote {path} {results[name]}", flush=True)
        with open(acc_path, "w") as f:
            json.dump(results, f, indent=2, sort_keys=True)
            f.write("\n")


if __name__ == "__main__":
    main()
