"""Runs a .tflite model in LiteRT (ai-edge-litert), for sesr-tflite's tests.

usage: litert_run.py MODEL [--input IN.bin] [--output OUT.bin] [--threads 2]
                           [--resolver auto|builtin|ref] [--time N]

IN.bin holds the input tensor's raw little-endian bytes (the dtype and shape are the model's);
OUT.bin receives the output's. Without --input the model is only loaded and its tensors
allocated. With --time N the model runs once to warm up, then N more times.
Prints one JSON object: input/output dtype and shape, run times in ms (wall clock, and CPU time
of all threads), and the operators in the interpreter's node list (delegate kernels appear as
extra nodes).
"""

import argparse
import json
import struct
import sys
import time

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

RESOLVERS = {
    "auto": OpResolverType.AUTO,  # builtin kernels + the default XNNPACK delegate
    "builtin": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    "ref": OpResolverType.BUILTIN_REF,  # reference kernels
}

# BUILTIN_REF registers some kernels at version 1 only, although the same kernel handles the
# newer versions' types: DEPTH_TO_SPACE (int8 is its version 2).
REFERENCE_VERSION_1_ONLY = {5}


def lower_versions_for_reference(content):
    """Sets those operators' versions to 1 in place, for the reference resolver only."""
    from ai_edge_litert import schema_py_generated as schema

    buf = bytearray(content)
    model = schema.Model.GetRootAs(buf, 0)
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        field = code._tab.Offset(8)  # OperatorCode.version
        if code.BuiltinCode() in REFERENCE_VERSION_1_ONLY and field:
            struct.pack_into("<i", buf, code._tab.Pos + field, 1)
    return bytes(buf)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--input")
    parser.add_argument("--output")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--resolver", choices=RESOLVERS, default="auto")
    parser.add_argument("--time", type=int, default=0)
    args = parser.parse_args()

    with open(args.model, "rb") as f:
        content = f.read()
    if args.resolver == "ref":
        content = lower_versions_for_reference(content)
    interpreter = Interpreter(
        model_content=content,
        num_threads=args.threads,
        experimental_op_resolver_type=RESOLVERS[args.resolver],
    )
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    report = {
        "input": {"dtype": np.dtype(inp["dtype"]).name, "shape": inp["shape"].tolist()},
        "output": {"dtype": np.dtype(out["dtype"]).name, "shape": out["shape"].tolist()},
        "nodes": [d["op_name"] for d in interpreter._get_ops_details()],
    }
    if args.input:
        data = np.fromfile(args.input, dtype=inp["dtype"]).reshape(inp["shape"])
        interpreter.set_tensor(inp["index"], data)
        times, cpu = [], []
        for _ in range(1 + args.time):
            start, start_cpu = time.perf_counter(), time.process_time()
            interpreter.invoke()
            times.append((time.perf_counter() - start) * 1e3)
            cpu.append((time.process_time() - start_cpu) * 1e3)
        report["times_ms"] = times[1:] if args.time else times
        report["cpu_ms"] = cpu[1:] if args.time else cpu
        if args.output:
            interpreter.get_tensor(out["index"]).tofile(args.output)
    json.dump(report, sys.stdout)
    print()


if __name__ == "__main__":
    main()
