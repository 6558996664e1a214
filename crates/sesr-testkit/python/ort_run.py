"""Runs an ONNX model in ONNX Runtime (CPU provider), for the project's tests and benchmarks.

usage: ort_run.py MODEL [--check] [--input IN.bin --height H --width W] [--output OUT.bin]
                        [--threads 2] [--time N]

--check runs onnx.checker with full checking (shape inference included) first. IN.bin holds
a float32 plane of H x W values (little-endian), fed as the [1, 1, H, W] input; OUT.bin
receives the float32 output. With --time N the model runs once to warm up, then N more times.
Prints one JSON object: the output shape, run times in ms, and the operator types the
optimized session runs (fused integer kernels such as QLinearConv show there).
"""

import argparse
import json
import os
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--input")
    parser.add_argument("--height", type=int)
    parser.add_argument("--width", type=int)
    parser.add_argument("--output")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--time", type=int, default=0)
    args = parser.parse_args()

    report = {}
    if args.check:
        onnx.checker.check_model(args.model, full_check=True)
        report["checked"] = True
    if args.input is None:
        print(json.dumps(report))
        return

    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    with tempfile.TemporaryDirectory() as tmp:
        optimized = os.path.join(tmp, "optimized.onnx")
        options.optimized_model_filepath = optimized
        session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
        report["optimized_ops"] = sorted({n.op_type for n in onnx.load(optimized).graph.node})
    plane = np.fromfile(args.input, dtype="<f4").reshape(1, 1, args.height, args.width)
    name = session.get_inputs()[0].name
    out = session.run(None, {name: plane})[0]
    times = []
    for _ in range(args.time):
        start = time.perf_counter()
        session.run(None, {name: plane})
        times.append((time.perf_counter() - start) * 1000.0)
    if args.output:
        out.astype("<f4").tofile(args.output)
    report["shape"] = list(out.shape)
    report["times_ms"] = times
    print(json.dumps(report))


if __name__ == "__main__":
    main()
