#!/usr/bin/python3
"""Trains a deliberately overfit Fashion-MNIST MLP on 100 training images.

Tooling only (a fixture for the privacy suite's test): a model that has
memorised its training set leaks membership, so the loss-threshold
membership inference attack must show a much higher advantage on it than
on the bundled models.

    /usr/bin/python3 models/make_overfit.py [--out tests/data/overfit]

Writes OUT/overfit.onnx (input `input` [N,1,28,28] float in [0,1], output
`logits` [N,10]), OUT/members_u8.npy + OUT/members_labels.npy (the 100
training images) and OUT/test_u8.npy + OUT/test_labels.npy (the first 100
test images, non-members).
"""
import argparse
import os
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fashion_data  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests",
                                                  "data", "overfit"))
    args = ap.parse_args()
    torch.manual_seed(0)
    xtr, ytr = fashion_data.load("train")
    xte, yte = fashion_data.load("t10k")
    # Training images 10000..10099: not among the 256 calibration images.
    xm, ym = xtr[10000:10100], ytr[10000:10100]
    xn, yn = xte[:100], yte[:100]
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    x = torch.tensor(xm, dtype=torch.float32).unsqueeze(1) / 255.0
    y = torch.tensor(ym)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(400):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        xt = torch.tensor(xn, dtype=torch.float32).unsqueeze(1) / 255.0
        train_acc = (model(x).argmax(1) == y).float().mean().item()
        test_acc = (model(xt).argmax(1) == torch.tensor(yn)).float().mean().item()
    print(f"final train loss {loss.item():.5f}, train acc {train_acc:.3f}, test acc {test_acc:.3f}")
    os.makedirs(args.out, exist_ok=True)
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), os.path.join(args.out, "overfit.onnx"),
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, opset_version=13)
    np.save(os.path.join(args.out, "members_u8.npy"), xm[:, None, :, :].copy())
    np.save(os.path.join(args.out, "members_labels.npy"), ym.astype(np.int64))
    np.save(os.path.join(args.out, "test_u8.npy"), xn[:, None, :, :].copy())
    np.save(os.path.join(args.out, "test_labels.npy"), yn.astype(np.int64))


if __name__ == "__main__":
    main()
