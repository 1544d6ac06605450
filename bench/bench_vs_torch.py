#!/usr/bin/python3
"""flipcheck next to PyTorch on the same network.

Rebuilds a peer model (tests/data/peers/*.onnx) in PyTorch with the ONNX
file's own weights, checks that it gives ONNX Runtime's logits on the peer
images, times a batch-64 forward (median of timed runs after a warm-up,
torch.inference_mode, torch.set_num_threads(THREADS)), then runs
`flipcheck bench --json` for each engine with the same thread count and
prints images/s and the ratio flipcheck / PyTorch.

With --attack fgsm both sides time one FGSM batch instead: the input
gradient of the summed cross-entropy (PyTorch autograd, weights frozen),
clip(x + eps * sign(grad), 0, 1) and the forward pass that judges it,
against `flipcheck bench --attack fgsm`.

Tooling only (Debian python3-torch, python3-onnx, python3-numpy); flipcheck
itself never needs Python.  See bench/README.md.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import onnx
import torch
from onnx import numpy_helper

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
PEERS = os.path.join(ROOT, "tests", "data", "peers")


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def conv_module(node, w, b):
    a = attrs(node)
    pads = a.get("pads", [0, 0, 0, 0])
    if pads[:2] != pads[2:]:
        sys.exit(f"{node.name}: asymmetric Conv padding is not handled by this script")
    m = torch.nn.Conv2d(w.shape[1] * a.get("group", 1), w.shape[0], tuple(w.shape[2:]),
                        stride=tuple(a.get("strides", [1, 1])), padding=tuple(pads[:2]),
                        dilation=tuple(a.get("dilations", [1, 1])), groups=a.get("group", 1),
                        bias=b is not None)
    m.weight.data.copy_(torch.from_numpy(w))
    if b is not None:
        m.bias.data.copy_(torch.from_numpy(b))
    return m


def gemm_module(node, w, b):
    a = attrs(node)
    if a.get("transA", 0) or not a.get("transB", 0) or a.get("alpha", 1.0) != 1.0 \
            or a.get("beta", 1.0) != 1.0:
        sys.exit(f"{node.name}: only Gemm(transB=1, alpha=beta=1) maps to nn.Linear here")
    m = torch.nn.Linear(w.shape[1], w.shape[0], bias=b is not None)
    m.weight.data.copy_(torch.from_numpy(w))
    if b is not None:
        m.bias.data.copy_(torch.from_numpy(b))
    return m


class OnnxNet(torch.nn.Module):
    """The ONNX graph as PyTorch modules with the file's weights.

    Chains (mlp, cnn) run as an nn.Sequential would; graphs with skip
    connections (resnet) follow the ONNX node order with named values."""

    def __init__(self, model):
        super().__init__()
        g = model.graph
        inits = {t.name: numpy_helper.to_array(t).copy() for t in g.initializer}
        self.consts = {}
        self.steps = []      # (module key or None, op, input names, output name, attrs)
        self.mods = torch.nn.ModuleDict()
        self.input = g.input[0].name
        self.output = g.output[0].name
        for i, n in enumerate(g.node):
            a = attrs(n)
            key = f"m{i}"
            if n.op_type == "Constant":
                self.consts[n.output[0]] = torch.from_numpy(numpy_helper.to_array(a["value"]).copy())
                continue
            ins = [x for x in n.input if x]
            if n.op_type == "Conv":
                self.mods[key] = conv_module(n, inits[ins[1]], inits.get(ins[2]) if len(ins) > 2 else None)
                ins = ins[:1]
            elif n.op_type == "Gemm":
                self.mods[key] = gemm_module(n, inits[ins[1]], inits.get(ins[2]) if len(ins) > 2 else None)
                ins = ins[:1]
            elif n.op_type == "Relu":
                self.mods[key] = torch.nn.ReLU()
            elif n.op_type == "MaxPool":
                p = a.get("pads", [0, 0, 0, 0])
                self.mods[key] = torch.nn.MaxPool2d(tuple(a["kernel_shape"]),
                                                    stride=tuple(a.get("strides", a["kernel_shape"])),
                                                    padding=tuple(p[:2]),
                                                    ceil_mode=bool(a.get("ceil_mode", 0)))
            elif n.op_type == "Flatten":
                self.mods[key] = torch.nn.Flatten(a.get("axis", 1))
            elif n.op_type == "GlobalAveragePool":
                self.mods[key] = torch.nn.AdaptiveAvgPool2d(1)
            elif n.op_type == "Clip":
                lo = self.consts[ins[1]].item() if len(ins) > 1 else a.get("min")
                hi = self.consts[ins[2]].item() if len(ins) > 2 else a.get("max")
                self.mods[key] = torch.nn.Hardtanh(lo, hi) if (lo, hi) != (0.0, 6.0) else torch.nn.ReLU6()
                ins = ins[:1]
            elif n.op_type == "Add":
                key = None
            else:
                sys.exit(f"op {n.op_type} is not handled by this script")
            self.steps.append((key, n.op_type, ins, n.output[0]))
        chain = all(s[0] is not None for s in self.steps) and all(
            s[2] == [prev[3]] for prev, s in zip(self.steps, self.steps[1:]))
        self.seq = torch.nn.Sequential(*[self.mods[s[0]] for s in self.steps]) if chain else None

    def forward(self, x):
        if self.seq is not None:
            return self.seq(x)
        vals = {self.input: x}
        for key, op, ins, out in self.steps:
            if key is None:   # Add
                vals[out] = vals[ins[0]] + vals[ins[1]]
            else:
                vals[out] = self.mods[key](vals[ins[0]])
        return vals[self.output]


def time_torch(net, x, runs, warmup):
    times = []
    with torch.inference_mode():
        for r in range(warmup + runs):
            t0 = time.perf_counter()
            net(x)
            t1 = time.perf_counter()
            if r >= warmup:
                times.append(t1 - t0)
    return statistics.median(times)


def time_torch_fgsm(net, x, labels, eps, runs, warmup):
    """One FGSM batch as an attack run does it: gradient, step, judging forward."""
    for p in net.parameters():
        p.requires_grad_(False)
    loss_fn = torch.nn.CrossEntropyLoss(reduction="sum")
    times = []
    for r in range(warmup + runs):
        t0 = time.perf_counter()
        xr = x.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(loss_fn(net(xr), labels), xr)
        adv = (x + eps * grad.sign()).clamp(0.0, 1.0)
        with torch.inference_mode():
            net(adv).argmax(1)
        t1 = time.perf_counter()
        if r >= warmup:
            times.append(t1 - t0)
    return statistics.median(times)


def flipcheck_bench(binary, model, engine, batch, runs, warmup, threads, attack=None):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    cmd = [binary, "bench", "--model", model, "--engine", engine, "--batch", str(batch),
           "--runs", str(runs), "--warmup", str(warmup), "--json"]
    if attack:
        cmd += ["--attack", attack]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr.strip()}")
    return json.loads(p.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="cnn",
                    help="peer name (mlp, cnn, resnet, mobilenet) or path to an .onnx (default cnn)")
    ap.add_argument("--flipcheck", default=os.path.join(ROOT, "build", "flipcheck"),
                    help="flipcheck binary (default build/flipcheck)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--engines", default="f32,f32-ref",
                    help="comma-separated flipcheck engines (default f32,f32-ref)")
    ap.add_argument("--ref-runs", type=int, default=5,
                    help="timed runs for f32-ref, the slow oracle (default 5)")
    ap.add_argument("--attack", choices=["fgsm"],
                    help="time an FGSM batch (gradient + step + eval) instead of a forward")
    args = ap.parse_args()

    path = args.model if args.model.endswith(".onnx") else os.path.join(PEERS, args.model + ".onnx")
    name = os.path.splitext(os.path.basename(path))[0]
    torch.set_num_threads(args.threads)
    net = OnnxNet(onnx.load(path)).eval()

    # Same model: the rebuilt network must give ONNX Runtime's logits.
    logits = os.path.join(os.path.dirname(path), name + ".ort_logits.npy")
    images = os.path.join(os.path.dirname(path), "test_images_u8.npy")
    if os.path.exists(logits) and os.path.exists(images):
        x = torch.from_numpy(np.load(images)[:64].astype(np.float32) / 255.0)
        with torch.inference_mode():
            got = net(x).numpy()
        diff = float(np.abs(got - np.load(logits)[:64]).max())
        print(f"{name}: PyTorch rebuild vs ONNX Runtime logits, 64 images: max |diff| = {diff:.2e}")
        if diff > 1e-4:
            sys.exit("the PyTorch rebuild does not match the ONNX model")

    shape = [d.dim_value for d in onnx.load(path).graph.input[0].type.tensor_type.shape.dim]
    gen = torch.Generator().manual_seed(0)
    x = torch.rand([args.batch] + shape[1:], generator=gen)
    if args.attack == "fgsm":
        classes = [d.dim_value for d in onnx.load(path).graph.output[0].type.tensor_type.shape.dim][-1]
        labels = torch.randint(0, classes, (args.batch,), generator=gen)
        t = time_torch_fgsm(net, x, labels, 8.0 / 255.0, args.runs, args.warmup)
        what = "FGSM images/s"
    else:
        t = time_torch(net, x, args.runs, args.warmup)
        what = "images/s"
    torch_ips = args.batch / t
    print(f"{'engine':<22} {what:>14} {'ms/batch':>10} {'vs torch':>9}")
    print(f"{'torch ' + torch.__version__ + f' ({args.threads} thr)':<22} {torch_ips:>14.1f} "
          f"{t * 1e3:>10.3f} {1.0:>9.2f}")
    for engine in args.engines.split(","):
        runs = args.ref_runs if engine == "f32-ref" else args.runs
        warm = min(args.warmup, 1) if engine == "f32-ref" else args.warmup
        r = flipcheck_bench(args.flipcheck, path, engine, args.batch, runs, warm, args.threads,
                            args.attack)
        ips = r["images_per_s"]
        print(f"{'flipcheck ' + engine:<22} {ips:>14.1f} {r['median_s_per_batch'] * 1e3:>10.3f} "
              f"{ips / torch_ips:>9.2f}   (peak RSS {r['peak_rss_kb']} KB)")


if __name__ == "__main__":
    main()
