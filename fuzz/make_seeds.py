#!/usr/bin/python3
"""Writes the small seed corpora of the fuzz harnesses (fuzz/corpus/*).

Tooling only (onnx + numpy + zlib); the seeds are committed, so this runs
only when they should change:  python3 fuzz/make_seeds.py
"""
import os
import struct
import zlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(11)


def out(kind, name, data):
    with open(os.path.join(HERE, "corpus", kind, name), "wb") as f:
        f.write(data)


# ---- ONNX: tiny models covering the loader, the plan and common kernels ----
def model(name, nodes, inputs, outputs, inits, opset=13):
    g = helper.make_graph(nodes, name, inputs, outputs,
                          [numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)],
                          producer_name="fuzz-seed")
    m.ir_version = 8
    onnx.checker.check_model(m)
    out("onnx", name + ".onnx", m.SerializeToString())


def f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


vi = helper.make_tensor_value_info
X4 = vi("x", TensorProto.FLOAT, ["N", 1, 6, 6])
model("conv_relu_pool",
      [helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
       helper.make_node("Relu", ["c"], ["r"]),
       helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
       helper.make_node("Flatten", ["p"], ["f"]),
       helper.make_node("Gemm", ["f", "gw", "gb"], ["y"], transB=1)],
      [X4], [vi("y", TensorProto.FLOAT, ["N", 3])],
      {"w": f32(2, 1, 3, 3), "b": f32(2), "gw": f32(3, 18), "gb": f32(3)})
model("mlp_softmax",
      [helper.make_node("Reshape", ["x", "shape"], ["r"]),
       helper.make_node("MatMul", ["r", "w"], ["m"]),
       helper.make_node("Add", ["m", "b"], ["a"]),
       helper.make_node("Sigmoid", ["a"], ["s"]),
       helper.make_node("Softmax", ["s"], ["y"], axis=-1)],
      [X4], [vi("y", TensorProto.FLOAT, ["N", 4])],
      {"shape": np.array([-1, 36], np.int64), "w": f32(36, 4), "b": f32(4)})
model("bn_avgpool_concat",
      [helper.make_node("BatchNormalization", ["x", "s", "bb", "m", "v"], ["n"]),
       helper.make_node("AveragePool", ["n"], ["a"], kernel_shape=[3, 3], strides=[3, 3]),
       helper.make_node("GlobalAveragePool", ["n"], ["g"]),
       helper.make_node("Flatten", ["a"], ["fa"]),
       helper.make_node("Flatten", ["g"], ["fg"]),
       helper.make_node("Concat", ["fa", "fg"], ["y"], axis=1)],
      [X4], [vi("y", TensorProto.FLOAT, ["N", 5])],
      {"s": f32(1), "bb": f32(1), "m": f32(1), "v": np.abs(f32(1)) + 1})
model("shape_gather_constant",
      [helper.make_node("Shape", ["x"], ["sh"]),
       helper.make_node("Gather", ["sh", "i0"], ["n"], axis=0),
       helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(
           np.array([-1], np.int64))),
       helper.make_node("Concat", ["n", "c"], ["s2"], axis=0),
       helper.make_node("Reshape", ["x", "s2"], ["r"]),
       helper.make_node("Mul", ["r", "k"], ["y"])],
      [X4], [vi("y", TensorProto.FLOAT, ["N", 36])],
      {"i0": np.array([0], np.int64), "k": f32(1)})
model("qdq_conv",
      [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]),
       helper.make_node("DequantizeLinear", ["q", "s", "z"], ["dq"]),
       helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["w"]),
       helper.make_node("Conv", ["dq", "w"], ["c"], kernel_shape=[3, 3]),
       helper.make_node("QuantizeLinear", ["c", "s", "z"], ["cq"]),
       helper.make_node("DequantizeLinear", ["cq", "s", "z"], ["y"])],
      [X4], [vi("y", TensorProto.FLOAT, ["N", 2, 4, 4])],
      {"s": np.array(0.05, np.float32), "z": np.array(0, np.int8),
       "wq": rng.integers(-127, 127, (2, 1, 3, 3)).astype(np.int8),
       "ws": np.array(0.02, np.float32), "wz": np.array(0, np.int8)})
model("transpose_clip_pad",
      [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 1, 3, 2]),
       helper.make_node("Pad", ["t", "pads"], ["p"]),
       helper.make_node("Clip", ["p", "lo", "hi"], ["c"]),
       helper.make_node("ReduceMean", ["c"], ["y"], axes=[2, 3], keepdims=0)],
      [X4], [vi("y", TensorProto.FLOAT, ["N", 1])],
      {"pads": np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64),
       "lo": np.array(0, np.float32), "hi": np.array(6, np.float32)})


# ---- PNG: each colour type, bit depth, interlace, ancillary chunks ----
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)


def png(name, w, h, depth, ctype, rows, extra=b"", interlace=0):
    ihdr = struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, interlace)
    raw = b"".join(b"\x00" + r for r in rows)
    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra +
            chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
    out("png", name, data)


W, H = 5, 4
png("gray8.png", W, H, 8, 0, [bytes((x * 50 + y) % 256 for x in range(W)) for y in range(H)])
png("gray1.png", 9, 3, 1, 0, [b"\xaa\x80", b"\x55\x00", b"\xff\x80"])
png("gray16.png", W, H, 16, 0, [b"".join(struct.pack(">H", x * 9000 + y) for x in range(W))
                                   for y in range(H)])
png("rgb8.png", W, H, 8, 2, [bytes((x * 40 + c * 70 + y) % 256 for x in range(W) for c in range(3))
                               for y in range(H)], extra=chunk(b"tEXt", b"Comment\x00seed"))
png("rgba8.png", W, H, 8, 6, [bytes((x * 30 + c * 60) % 256 for x in range(W) for c in range(4))
                                for y in range(H)])
png("gray_alpha8.png", W, H, 8, 4, [bytes((x * 30 + c * 90) % 256 for x in range(W) for c in range(2))
                                      for y in range(H)])
png("palette4.png", 4, 2, 4, 3, [b"\x01\x23", b"\x32\x10"],
    extra=chunk(b"PLTE", bytes(range(12))) + chunk(b"tRNS", b"\xff\x80"))
# Interlaced (Adam7) 8x8 gray: the seven passes' rows in order, each
# with its filter byte.
passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
          (0, 1, 1, 2)]
adam = b""
for x0, y0, dx, dy in passes:
    for y in range(y0, 8, dy):
        adam += b"\x00" + bytes((x * 31 + y * 7) % 256 for x in range(x0, 8, dx))
out("png", "interlaced.png",
    b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 0, 0, 0, 1)) +
    chunk(b"IDAT", zlib.compress(adam)) + chunk(b"IEND", b""))
