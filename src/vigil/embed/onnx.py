"""Face embedders in ONNX, run by onnxruntime: the network's input declared by its catalogue spec."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from vigil.embed.dlib_resnet import l2_normalise
from vigil.errors import ModelError
from vigil.model_catalogue import EmbedderSpec, model_id
from vigil.types import Embeddings, FloatArray, Image


def _session(path: Path, threads: int) -> Any:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # Idle intra-op threads must sleep, not spin: a fusion runs two sessions one after the other and the
    # first one's spinning threads took the cores from the second (41.6 ms a face on 2 threads, 22.4 ms
    # without spinning; one session alone: ~1% slower on 1 thread, up to ~6% on 2, docs/benchmarks.md);
    # camera workers share the cores too.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
        raise ModelError(f"{path}: not a loadable ONNX model ({str(exc).strip()[:300]})") from exc


def expected_input(spec: EmbedderSpec) -> tuple[int, int, int]:
    """The per-face input shape the spec declares, without the batch axis."""
    s = spec.input_size
    return (3, s, s) if spec.layout == "NCHW" else (s, s, 3)


class OnnxEmbedder:
    """A face network in ONNX over chips of ``spec.input_size`` px (RGB, as every aligner cuts them).

    The model file's input and output are checked against the spec when it loads, so a wrong file is
    an error at start-up, not a wrong vector mid-stream. Networks with a fixed batch of one are run
    face by face; others get the whole batch at once.
    """

    def __init__(self, spec: EmbedderSpec, path: Path, flip: bool, threads: int = 1) -> None:
        self.spec = spec
        self.dim = spec.dim
        self.model_id = model_id(spec, flip)
        self._flip = flip
        self._session = _session(path, threads)
        inputs = self._session.get_inputs()
        outputs = self._session.get_outputs()
        if len(inputs) != 1 or not outputs:
            raise ModelError(f"{path}: expected one input and an output, found {len(inputs)} inputs")
        shape = list(inputs[0].shape)
        want = expected_input(spec)
        if len(shape) != 4 or tuple(shape[1:]) != want:
            raise ModelError(f"{path}: input shape {shape}, expected [N, {', '.join(map(str, want))}]")
        out_shape = list(outputs[0].shape)
        if len(out_shape) != 2 or out_shape[1] != spec.dim:
            raise ModelError(f"{path}: output shape {out_shape}, expected [N, {spec.dim}] for {spec.name}")
        self._input = str(inputs[0].name)
        self._one_at_a_time = shape[0] == 1

    def embed(self, chips: Sequence[Image]) -> Embeddings:
        if not chips:
            return Embeddings(np.zeros((0, self.dim), np.float32), self.model_id)
        size = self.spec.input_size
        for chip in chips:
            if chip.shape != (size, size, 3):
                raise ModelError(f"{self.spec.name} takes {size} px chips, got {chip.shape}")
        batch = np.stack(chips)
        raw = self._run(batch)
        if self._flip:
            raw = l2_normalise(raw) + l2_normalise(self._run(np.ascontiguousarray(batch[:, :, ::-1])))
        return Embeddings(l2_normalise(raw), self.model_id)

    def _run(self, rgb: np.ndarray) -> FloatArray:
        spec = self.spec
        x = rgb[..., ::-1] if spec.colour == "BGR" else rgb
        tensor = (x.astype(np.float32) - np.float32(spec.mean)) / np.float32(spec.std)
        if spec.layout == "NCHW":
            tensor = tensor.transpose(0, 3, 1, 2)
        tensor = np.ascontiguousarray(tensor)
        run = self._session.run
        if self._one_at_a_time:
            rows = [run(None, {self._input: tensor[i : i + 1]})[0][0] for i in range(len(tensor))]
            return np.asarray(rows, np.float32)
        out: FloatArray = np.asarray(run(None, {self._input: tensor})[0], np.float32)
        return out
