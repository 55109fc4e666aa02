"""Checks an ONNX model and runs it in onnxruntime, for the zoo-onnx tests.

usage: ort_run.py MODEL NAME=SHAPE=VALUES...
  SHAPE is comma-separated dims; VALUES is comma-separated floats, `zeros`, or
  `@FILE`: a file of little-endian float32s (inputs too long for one argument).
Prints one line per model output: NAME<TAB>comma-separated flattened values.
"""

import sys

import numpy as np
import onnx
import onnxruntime as ort


def main() -> None:
    model, *specs = sys.argv[1:]
    onnx.checker.check_model(model, full_check=True)
    feeds = {}
    for spec in specs:
        name, shape, values = spec.split("=")
        dims = [int(d) for d in shape.split(",")]
        if values == "zeros":
            feeds[name] = np.zeros(dims, np.float32)
        elif values.startswith("@"):
            feeds[name] = np.fromfile(values[1:], dtype="<f4").reshape(dims)
        else:
            data = [float(v) for v in values.split(",")]
            feeds[name] = np.array(data, np.float32).reshape(dims)
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    for info, value in zip(session.get_outputs(), session.run(None, feeds)):
        flat = np.asarray(value, np.float32).ravel()
        print(info.name + "\t" + ",".join(repr(float(v)) for v in flat))


if __name__ == "__main__":
    main()
