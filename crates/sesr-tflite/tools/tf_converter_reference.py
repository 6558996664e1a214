"""SESR-M5 x2 (1080x1920 input) as TensorFlow's own converter writes it, for latency comparisons.

Not part of the build or the tests: TensorFlow is not a dependency of this project. To compare
our exports with TensorFlow's in the same runtime (LiteRT, 2 threads):

    python3 -m venv /tmp/tfenv && /tmp/tfenv/bin/pip install tensorflow-cpu
    /tmp/tfenv/bin/python tf_converter_reference.py relu native          # float32
    /tmp/tfenv/bin/python tf_converter_reference.py relu detour int8     # int8, the reference's
                                                                         # transpose/batch_to_space
    .venv/bin/python crates/sesr-testkit/python/litert_run.py /tmp/tfref/tf_relu_native.tflite \
        --input zeros.bin --threads 2 --time 8

Arguments: relu|prelu, native|detour (depth-to-space as DEPTH_TO_SPACE or as the reference's
transpose / batch_to_space / transpose), and `int8` for full-integer quantization (int8 input
and output, calibrated on random frames). Weights are random: they do not change the speed.
Files go to /tmp/tfref/.
"""
import os
import numpy as np, tensorflow as tf, sys
act, d2s = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(0)
H, W, f = 1080, 1920, 16
def w(k, i, o): return tf.constant(rng.normal(0, 0.05, (k, k, i, o)).astype(np.float32))
convs = [(w(5, 1, f), tf.zeros(f))] + [(w(3, f, f), tf.zeros(f)) for _ in range(5)] + [(w(5, f, 4), tf.zeros(4))]
alpha = tf.constant(np.full((1, 1, f), 0.1, np.float32))
@tf.function(input_signature=[tf.TensorSpec([1, H, W, 1], tf.float32)])
def sesr(x):
    def conv(h, i):
        k, b = convs[i]
        return tf.nn.bias_add(tf.nn.conv2d(h, k, 1, "SAME"), b)
    h = conv(x - 0.5, 0); first = h
    for i in range(5):
        h = conv(h, i + 1)
        h = tf.maximum(h, 0.0) + alpha * tf.minimum(h, 0.0) if act == "prelu" else tf.nn.relu(h)
    h = conv(h + first, 6) + x
    if d2s == "native":
        h = tf.nn.depth_to_space(h, 2)
    else:
        t = tf.transpose(h, [3, 1, 2, 0])
        t = tf.compat.v1.batch_to_space_nd(t, [2, 2], [[0, 0], [0, 0]])
        h = tf.transpose(t, [3, 1, 2, 0])
    return tf.clip_by_value(h, 0.0, 1.0)
conv_ = tf.lite.TFLiteConverter.from_concrete_functions([sesr.get_concrete_function()], sesr)
suffix = ""
if len(sys.argv) > 3:
    conv_.optimizations = [tf.lite.Optimize.DEFAULT]
    conv_.representative_dataset = lambda: ([rng.random((1, H, W, 1), dtype=np.float32)] for _ in range(2))
    conv_.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv_.inference_input_type = tf.int8
    conv_.inference_output_type = tf.int8
    suffix = "_int8"
os.makedirs("/tmp/tfref", exist_ok=True)
open(f"/tmp/tfref/tf_{act}_{d2s}{suffix}.tflite", "wb").write(conv_.convert())
print("written", act, d2s)
