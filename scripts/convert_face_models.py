"""Convert MediaPipe's Face Mesh models (TFLite) to ONNX for FaceForge's tracker.

Build time only (``.venv-build``: ``tflite`` parses the flatbuffer, ``onnx``
writes the graph); the runtime never imports either.  Reads the models from
the ``mediapipe==0.10.21`` wheel installed in ``.venv`` (the reference
environment) and writes::

    models/face_detector.onnx    face_detection_short_range.tflite (BlazeFace, 128x128)
    models/face_landmarks.onnx   face_landmark_with_attention.tflite (192x192, 478 points)

Why our own converter: the landmark model uses three MediaPipe custom ops
(``Landmarks2TransformMatrix``, ``TransformTensorBilinear``,
``TransformLandmarks``) that generic converters (tf2onnx, tflite2onnx) do not
know, and both models use only a dozen builtin ops.  The custom ops are written
with standard ONNX ops (an affine matrix from the landmarks, four ``Gather`` reads for
the bilinear crop (four ``Gather`` reads), a ``MatMul`` for the landmark transform) following the
semantics of MediaPipe's CPU kernels (``mediapipe/util/tflite/operations``).

Layout: TFLite is NHWC, ONNX convolutions are NCHW.  Every 4-D activation is
kept NCHW inside the graph; inputs and 4-D outputs keep TFLite's NHWC shapes.
fp16 weights stay fp16 (``DEQUANTIZE`` becomes a ``Cast``), as in the source.

Usage: ``.venv-build/bin/python scripts/convert_face_models.py [--check]``
(``--check`` runs both ONNX models once in onnxruntime on a random input).
"""

from __future__ import annotations

import argparse
import glob
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = {
    "face_detector.onnx": "face_detection/face_detection_short_range.tflite",
    "face_landmarks.onnx": "face_landmark/face_landmark_with_attention.tflite",
}
OPSET = 18
NHWC_TO_NCHW = (0, 3, 1, 2)
NCHW_TO_NHWC = (0, 2, 3, 1)


def mediapipe_modules_dir() -> str:
    """The ``mediapipe/modules`` folder of the reference wheel in ``.venv``."""
    pattern = os.path.join(ROOT, ".venv", "lib", "python3*", "site-packages", "mediapipe", "modules")
    found = sorted(glob.glob(pattern))
    if not found:
        sys.exit("convert_face_models: mediapipe 0.10.21 is not installed in .venv (run scripts/setup_env.sh)")
    return found[0]


class Converter:
    """One TFLite subgraph -> one ONNX graph."""

    def __init__(self, tfl_bytes: bytes, name: str):
        import tflite

        self.tfl = tflite
        self.model = tflite.Model.GetRootAsModel(tfl_bytes, 0)
        self.graph = self.model.Subgraphs(0)
        self.name = name
        self.nodes = []
        self.inits = []
        self.consts: dict[int, np.ndarray] = {}  # tensor index -> value (fp16 kept as fp16)
        self.names: dict[int, str] = {}  # tensor index -> ONNX value name
        self.nchw: set[int] = set()  # tensor indices held as NCHW in the ONNX graph
        self._uid = 0
        self.opnames = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}

    # ------------------------------------------------------------------ helpers
    def uid(self, base: str) -> str:
        self._uid += 1
        return f"{base}__{self._uid}"

    def tensor(self, i: int):
        return self.graph.Tensors(i)

    def shape(self, i: int) -> list[int]:
        t = self.tensor(i)
        return [int(d) for d in t.ShapeAsNumpy()] if t.ShapeLength() else []

    def buffer_value(self, i: int):
        t = self.tensor(i)
        buf = self.model.Buffers(t.Buffer())
        if buf is None or buf.DataLength() == 0:
            return None
        dtype = {self.tfl.TensorType.FLOAT32: np.float32, self.tfl.TensorType.FLOAT16: np.float16,
                 self.tfl.TensorType.INT32: np.int32, self.tfl.TensorType.INT64: np.int64}[t.Type()]
        return np.frombuffer(buf.DataAsNumpy().tobytes(), dtype=dtype).reshape(self.shape(i))

    def node(self, op: str, inputs, outputs=None, **attrs):
        from onnx import helper

        outputs = outputs or [self.uid(op)]
        self.nodes.append(helper.make_node(op, list(inputs), list(outputs), **attrs))
        return outputs[0]

    def init(self, value: np.ndarray, base: str = "c") -> str:
        from onnx import numpy_helper

        name = self.uid(base)
        self.inits.append(numpy_helper.from_array(np.array(value, order="C"), name))
        return name

    def const_f32(self, i: int, transform=None, base: str = "w") -> str:
        """A constant input as an fp32 ONNX value (fp16 stored + Cast, as DEQUANTIZE did)."""
        value = self.consts[i]
        if transform is not None:
            value = transform(value)
        name = self.init(value, base)
        if value.dtype == np.float16:
            from onnx import TensorProto

            name = self.node("Cast", [name], to=TensorProto.FLOAT)
        return name

    def value(self, i: int, layout_for_4d=False) -> str:
        """ONNX name of tensor ``i``; constants used against a 4-D NCHW activation are
        broadcast to 4-D and transposed when ``layout_for_4d``."""
        if i in self.consts:
            if not layout_for_4d:
                return self.const_f32(i)

            def to_nchw(v):
                v = v.reshape((1,) * (4 - v.ndim) + v.shape) if v.ndim < 4 else v
                return v.transpose(NHWC_TO_NCHW)

            return self.const_f32(i, to_nchw)
        return self.names[i]

    def as_nhwc(self, i: int) -> str:
        name = self.value(i)
        if i in self.nchw:
            name = self.node("Transpose", [name], perm=list(NCHW_TO_NHWC))
        return name

    def options(self, op, cls):
        opt = getattr(self.tfl, cls)()
        table = op.BuiltinOptions()
        opt.Init(table.Bytes, table.Pos)
        return opt

    def activation(self, name: str, fused: int, out_name: str) -> str:
        act = self.tfl.ActivationFunctionType
        if fused == act.NONE:
            return self.node("Identity", [name], [out_name])
        if fused == act.RELU:
            return self.node("Relu", [name], [out_name])
        if fused == act.RELU6:
            return self.node("Clip", [name, self.init(np.float32(0)), self.init(np.float32(6))], [out_name])
        raise NotImplementedError(f"fused activation {fused}")

    @staticmethod
    def same_pads(in_hw, kernel_hw, stride_hw, dilation_hw=(1, 1)):
        pads_begin, pads_end = [], []
        for n, k, s, d in zip(in_hw, kernel_hw, stride_hw, dilation_hw):
            out = -(-n // s)
            total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
            pads_begin.append(total // 2)
            pads_end.append(total - total // 2)
        return pads_begin + pads_end

    # ------------------------------------------------------------------ ops
    def convert(self):
        from onnx import TensorProto, helper

        g = self.graph
        inputs, outputs = [], []
        for k in range(g.InputsLength()):
            i = g.Inputs(k)
            name = self.tensor(i).Name().decode()
            inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, self.shape(i)))
            if len(self.shape(i)) == 4:
                self.names[i] = self.node("Transpose", [name], perm=list(NHWC_TO_NCHW))
                self.nchw.add(i)
            else:
                self.names[i] = name
        for k in range(g.TensorsLength()):
            if k not in self.names:
                v = self.buffer_value(k)
                if v is not None:
                    self.consts[k] = v
        for k in range(g.OperatorsLength()):
            op = g.Operators(k)
            code = self.model.OperatorCodes(op.OpcodeIndex())
            builtin = self.opnames[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
            ins = [int(j) for j in op.InputsAsNumpy()]
            outs = [int(j) for j in op.OutputsAsNumpy()]
            if builtin == "CUSTOM":
                from flatbuffers import flexbuffers

                custom = code.CustomCode().decode()
                opts = flexbuffers.Loads(bytes(op.CustomOptionsAsNumpy())) if op.CustomOptionsLength() else {}
                getattr(self, f"op_{custom}")(op, ins, outs, opts)
            else:
                getattr(self, f"op_{builtin}")(op, ins, outs)
        for k in range(g.OutputsLength()):
            i = g.Outputs(k)
            name = self.tensor(i).Name().decode()
            src = self.as_nhwc(i) if i in self.nchw else self.value(i)
            self.node("Identity", [src], [name])
            outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, self.shape(i)))
        graph = helper.make_graph(self.nodes, self.name, inputs, outputs, self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="faceforge-convert_face_models")
        model.ir_version = 8
        return model

    def out_name(self, i: int) -> str:
        name = self.tensor(i).Name().decode() + f"__t{i}"
        self.names[i] = name
        return name

    def op_DEQUANTIZE(self, op, ins, outs):
        if ins[0] not in self.consts:
            raise NotImplementedError("DEQUANTIZE of a runtime tensor")
        self.consts[outs[0]] = self.consts[ins[0]]  # kept fp16; Cast where used

    def _conv(self, op, ins, outs, depthwise: bool):
        opt = self.options(op, "DepthwiseConv2DOptions" if depthwise else "Conv2DOptions")
        x = ins[0]
        n, c, h, w = [self.shape(x)[d] for d in (0, 3, 1, 2)]
        wshape = self.shape(ins[1])
        kh, kw = wshape[1], wshape[2]
        strides = [opt.StrideH(), opt.StrideW()]
        dil = [opt.DilationHFactor() or 1, opt.DilationWFactor() or 1]
        if opt.Padding() == self.tfl.Padding.SAME:
            pads = self.same_pads((h, w), (kh, kw), strides, dil)
        else:
            pads = [0, 0, 0, 0]
        if depthwise:  # (1, kh, kw, C*M) -> (C*M, 1, kh, kw)
            weight = self.const_f32(ins[1], lambda v: v.transpose(3, 0, 1, 2))
            group = c
        else:  # OHWI -> OIHW
            weight = self.const_f32(ins[1], lambda v: v.transpose(0, 3, 1, 2))
            group = 1
        conv_in = [self.value(x), weight]
        if len(ins) > 2 and ins[2] >= 0:
            conv_in.append(self.const_f32(ins[2]))
        y = self.node("Conv", conv_in, kernel_shape=[kh, kw], strides=strides, pads=pads, dilations=dil,
                      group=group)
        self.activation(y, opt.FusedActivationFunction(), self.out_name(outs[0]))
        self.nchw.add(outs[0])

    def op_CONV_2D(self, op, ins, outs):
        self._conv(op, ins, outs, depthwise=False)

    def op_DEPTHWISE_CONV_2D(self, op, ins, outs):
        self._conv(op, ins, outs, depthwise=True)

    def op_MAX_POOL_2D(self, op, ins, outs):
        opt = self.options(op, "Pool2DOptions")
        h, w = self.shape(ins[0])[1:3]
        k = [opt.FilterHeight(), opt.FilterWidth()]
        s = [opt.StrideH(), opt.StrideW()]
        pads = self.same_pads((h, w), k, s) if opt.Padding() == self.tfl.Padding.SAME else [0, 0, 0, 0]
        y = self.node("MaxPool", [self.value(ins[0])], kernel_shape=k, strides=s, pads=pads)
        self.activation(y, opt.FusedActivationFunction(), self.out_name(outs[0]))
        self.nchw.add(outs[0])

    def _binary(self, op, ins, outs, onnx_op, opt_cls):
        four_d = any(i in self.nchw for i in ins)
        if four_d and not all(i in self.nchw or i in self.consts for i in ins):
            raise NotImplementedError(f"{onnx_op} of a 4-D and a non-4-D runtime tensor")
        a, b = (self.value(i, layout_for_4d=four_d) for i in ins)
        y = self.node(onnx_op, [a, b])
        fused = self.options(op, opt_cls).FusedActivationFunction() if op.BuiltinOptions() else 0
        self.activation(y, fused, self.out_name(outs[0]))
        if four_d:
            self.nchw.add(outs[0])

    def op_ADD(self, op, ins, outs):
        self._binary(op, ins, outs, "Add", "AddOptions")

    def op_MUL(self, op, ins, outs):
        self._binary(op, ins, outs, "Mul", "MulOptions")

    def op_RELU(self, op, ins, outs):
        self.node("Relu", [self.value(ins[0])], [self.out_name(outs[0])])
        if ins[0] in self.nchw:
            self.nchw.add(outs[0])

    def op_PRELU(self, op, ins, outs):
        """PReLU as ``x * a + Relu(x) * (1 - a)``, the products as 1x1 depthwise convolutions:
        the same function, but onnxruntime keeps it in its blocked conv layout and fuses the sum
        into the second convolution - the landmark model runs in about 2.6 ms instead of 6.9 ms
        with ``PRelu`` (1 thread; ``Mul``s instead of the convolutions: about 3.3 ms)."""
        four_d = ins[0] in self.nchw
        x = self.value(ins[0])
        slope = self.value(ins[1], layout_for_4d=four_d)
        raw = self.consts[ins[1]].astype(np.float32)
        if four_d:
            raw = raw.reshape((1,) * (4 - raw.ndim) + raw.shape).transpose(NHWC_TO_NCHW)
        if four_d:  # both products as 1x1 depthwise convolutions: the Add fuses into the second
            c = raw.shape[1]
            w_s = self.init(raw.reshape(c, 1, 1, 1), "slope_dw")
            w_r = self.init((1.0 - raw).reshape(c, 1, 1, 1), "rest_dw")
            a = self.node("Conv", [x, w_s], kernel_shape=[1, 1], group=c)
            b = self.node("Conv", [self.node("Relu", [x]), w_r], kernel_shape=[1, 1], group=c)
            self.node("Add", [b, a], [self.out_name(outs[0])])
            self.nchw.add(outs[0])
            return
        rest = self.init((1.0 - raw).astype(np.float32), "one_minus_slope")
        self.node("Add", [self.node("Mul", [x, slope]), self.node("Mul", [self.node("Relu", [x]), rest])],
                  [self.out_name(outs[0])])
        if four_d:
            self.nchw.add(outs[0])

    def op_PAD(self, op, ins, outs):
        pads = self.consts[ins[1]].astype(np.int64)  # (rank, 2) in NHWC order
        if ins[0] in self.nchw:
            pads = pads[list(NHWC_TO_NCHW)]
            self.nchw.add(outs[0])
        onnx_pads = np.concatenate([pads[:, 0], pads[:, 1]]).astype(np.int64)
        self.node("Pad", [self.value(ins[0]), self.init(onnx_pads, "pads")], [self.out_name(outs[0])], mode="constant")

    def op_RESHAPE(self, op, ins, outs):
        target = self.shape(outs[0])
        src = self.as_nhwc(ins[0])
        y = self.node("Reshape", [src, self.init(np.array(target, np.int64), "shape")])
        if len(target) == 4:
            self.node("Transpose", [y], [self.out_name(outs[0])], perm=list(NHWC_TO_NCHW))
            self.nchw.add(outs[0])
        else:
            self.node("Identity", [y], [self.out_name(outs[0])])

    def op_CONCATENATION(self, op, ins, outs):
        opt = self.options(op, "ConcatenationOptions")
        axis = opt.Axis()
        rank = len(self.shape(outs[0]))
        axis = axis % rank
        four_d = all(i in self.nchw for i in ins)
        if rank == 4 and four_d:
            axis = NHWC_TO_NCHW.index(axis)
            self.nchw.add(outs[0])
        elif any(i in self.nchw for i in ins):
            raise NotImplementedError("CONCATENATION of mixed layouts")
        y = self.node("Concat", [self.value(i) for i in ins], axis=axis)
        self.activation(y, opt.FusedActivationFunction(), self.out_name(outs[0]))

    def op_STRIDED_SLICE(self, op, ins, outs):
        opt = self.options(op, "StridedSliceOptions")
        if opt.EllipsisMask() or opt.NewAxisMask() or opt.ShrinkAxisMask():
            raise NotImplementedError("STRIDED_SLICE with ellipsis/new-axis/shrink masks")
        shape = self.shape(ins[0])
        begin = self.consts[ins[1]].astype(np.int64).copy()
        end = self.consts[ins[2]].astype(np.int64).copy()
        strides = self.consts[ins[3]].astype(np.int64)
        for d in range(len(shape)):
            if opt.BeginMask() >> d & 1:
                begin[d] = 0 if strides[d] > 0 else shape[d] - 1
            if opt.EndMask() >> d & 1:
                end[d] = shape[d] if strides[d] > 0 else -shape[d] - 1
        src = self.as_nhwc(ins[0])
        axes = np.arange(len(shape), dtype=np.int64)
        y = self.node("Slice", [src, self.init(begin, "b"), self.init(end, "e"), self.init(axes, "a"),
                                self.init(strides, "s")])
        if len(shape) == 4:
            self.node("Transpose", [y], [self.out_name(outs[0])], perm=list(NHWC_TO_NCHW))
            self.nchw.add(outs[0])
        else:
            self.node("Identity", [y], [self.out_name(outs[0])])

    # ------------------------------------------------------------------ MediaPipe custom ops
    def op_Landmarks2TransformMatrix(self, op, ins, outs, opts):
        """v2: a 4x4 matrix mapping crop pixels (output_width x output_height) to the
        landmarks' space: rotation from two landmarks, box of a subset, scaled."""
        if float(opts.get("target_rotation_radians", 0.0)) != 0.0:
            raise NotImplementedError("target_rotation_radians != 0")
        lm = self.value(ins[0])  # (1, N, 3)
        xy = self.node("Slice", [lm, self.init(np.array([0], np.int64)), self.init(np.array([2], np.int64)),
                                 self.init(np.array([2], np.int64))])  # (1, N, 2)
        pair = self.node("Gather", [xy, self.init(np.array([opts["left_rotation_idx"], opts["right_rotation_idx"]],
                                                           np.int64))], axis=1)  # (1, 2, 2)
        d = self.node("MatMul", [self.init(np.array([[-1.0, 1.0]], np.float32)), pair])  # (1, 1, 2): dx, dy
        norm = self.node("Sqrt", [self.node("ReduceSum", [self.node("Mul", [d, d]),
                                                          self.init(np.array([2], np.int64))], keepdims=1)])
        u = self.node("Div", [d, norm])  # rotation r = -atan2(dy, dx): (cos r, -sin r) = (dx, dy) / n
        # rt = [[cos r, sin r], [-sin r, cos r]]: row vectors rotated by r are p @ rt, back by -r
        # p @ rt^T; rt is also the linear part of the output matrix before scaling
        rt = self.node("Reshape", [self.node("MatMul", [u, self.init(np.array([[1, 0, 0, 1], [0, -1, 1, 0]],
                                                                               np.float32))]),
                                   self.init(np.array([1, 2, 2], np.int64))])
        rt_t = self.node("Transpose", [rt], perm=[0, 2, 1])
        idx = np.array(opts["subset_idxs"], np.int64)  # pairs; an odd tail is used as (i, i): same set
        rotated = self.node("MatMul", [self.node("Gather", [xy, self.init(idx)], axis=1), rt])  # (1, K, 2)
        ax1 = self.init(np.array([1], np.int64))
        hi = self.node("ReduceMax", [rotated, ax1], keepdims=1)  # (1, 1, 2)
        lo = self.node("ReduceMin", [rotated, ax1], keepdims=1)
        mid = self.node("Mul", [self.node("Add", [hi, lo]), self.init(np.float32(0.5))])
        centre = self.node("MatMul", [mid, rt_t])  # rotated back: (1, 1, 2)
        ow, oh = float(opts["output_width"]), float(opts["output_height"])
        scale = self.node("Mul", [self.node("Sub", [hi, lo]),
                                  self.init(np.array([[[opts["scale_x"] / ow, opts["scale_y"] / oh]]], np.float32))])
        a = self.node("Mul", [rt, scale])  # (1, 2, 2): columns scaled
        # t = shift(centre) . R(-r) . scale . shift(-ow/2, -oh/2): translation a @ (-ow/2, -oh/2) + centre
        shift = self.node("Add", [self.node("MatMul", [a, self.init(np.array([[-ow / 2], [-oh / 2]], np.float32))]),
                                  self.node("Transpose", [centre], perm=[0, 2, 1])])  # (1, 2, 1)
        top = self.node("Concat", [a, self.init(np.zeros((1, 2, 1), np.float32)), shift], axis=2)  # (1, 2, 4)
        bottom = self.init(np.array([[[0, 0, 1, 0], [0, 0, 0, 1]]], np.float32))
        self.node("Concat", [top, bottom], [self.out_name(outs[0])], axis=1)

    def op_TransformTensorBilinear(self, op, ins, outs, opts):
        """v2: bilinear sample of an NHWC feature map at matrix-mapped crop pixels
        (pixel-centre corrected); samples outside [0, size-1] are zero."""
        feat = ins[0]
        if feat not in self.nchw:
            raise NotImplementedError("TransformTensorBilinear of a non-4-D tensor")
        h_in, w_in = self.shape(feat)[1:3]
        oh, ow = int(opts["output_height"]), int(opts["output_width"])
        m = self.value(ins[1])  # (1, 4, 4)
        m2 = self.node("Slice", [m, self.init(np.array([0, 0], np.int64)), self.init(np.array([2, 4], np.int64)),
                                 self.init(np.array([1, 2], np.int64))])  # (1, 2, 4)
        ys, xs = np.meshgrid(np.arange(oh, dtype=np.float32), np.arange(ow, dtype=np.float32), indexing="ij")
        # x_transform[3] += 0.5 * (m0 + m1) - 0.5  <=>  sample at (x + 0.5, y + 0.5) then - 0.5
        coords = np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5, np.zeros(oh * ow, np.float32),
                           np.ones(oh * ow, np.float32)])  # (4, P)
        tc = self.node("Sub", [self.node("MatMul", [m2, self.init(coords)]), self.init(np.float32(0.5))])  # (1, 2, P)
        # bilinear read of the four neighbours, all four at once (one Gather on the map's rows;
        # onnxruntime's GridSample took a quarter of the model's time), zero outside the map
        # like MediaPipe: a neighbour outside reads 0, a point outside [0, size-1] is 0
        from onnx import TensorProto

        c_in = self.shape(feat)[3]
        p = oh * ow
        flat = self.node("Reshape", [self.value(feat), self.init(np.array([1, c_in, h_in * w_in], np.int64))])
        rows = self.node("Transpose", [flat], perm=[0, 2, 1])  # (1, H*W, C): one contiguous row per read
        limit = self.init(np.array([[w_in - 1], [h_in - 1]], np.float32))  # (2, 1): x, y
        zero = self.init(np.float32(0))
        base = self.node("Floor", [tc])  # (1, 2, P)
        frac = self.node("Sub", [tc, base])
        offsets = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], np.float32)[:, :, None]  # (4, 2, 1)
        corner = self.node("Add", [base, self.init(offsets)])  # (4, 2, P)
        # per-axis weight: 1 - frac for the low neighbour, frac for the high one
        axis_w = self.node("Add", [self.node("Sub", [self.init(np.float32(1)), frac]),
                                   self.node("Mul", [self.init(offsets),
                                                     self.node("Sub", [self.node("Mul", [frac, self.init(np.float32(2))]),
                                                                       self.init(np.float32(1))])])])
        ax1 = self.init(np.array([1], np.int64))
        weight = self.node("ReduceProd", [axis_w, ax1], keepdims=0)  # (4, P)
        ok = self.node("And", [self.node("GreaterOrEqual", [corner, zero]), self.node("LessOrEqual", [corner, limit])])
        valid = self.node("ReduceMin", [self.node("Cast", [ok], to=TensorProto.FLOAT), ax1], keepdims=0)  # (4, P)
        clipped = self.node("Min", [self.node("Max", [corner, zero]), limit])
        index = self.node("ReduceSum", [self.node("Mul", [clipped, self.init(np.array([[1], [w_in]], np.float32))]),
                                        ax1], keepdims=0)  # (4, P): y * W + x
        index = self.node("Reshape", [self.node("Cast", [index], to=TensorProto.INT64),
                                      self.init(np.array([-1], np.int64))])  # (4P,)
        read = self.node("Reshape", [self.node("Gather", [rows, index], axis=1),
                                     self.init(np.array([1, 4, p, c_in], np.int64))])  # (1, 4, P, C)
        w4 = self.node("Reshape", [self.node("Mul", [weight, valid]), self.init(np.array([1, 4, p, 1], np.int64))])
        total = self.node("ReduceSum", [self.node("Mul", [read, w4]), ax1], keepdims=0)  # (1, P, C)
        inside_ok = self.node("And", [self.node("GreaterOrEqual", [tc, zero]), self.node("LessOrEqual", [tc, limit])])
        inside = self.node("ReduceMin", [self.node("Cast", [inside_ok], to=TensorProto.FLOAT), ax1], keepdims=0)  # (1, P)
        mask = self.node("Unsqueeze", [inside, self.init(np.array([2], np.int64))])  # (1, P, 1)
        out = self.node("Transpose", [self.node("Mul", [total, mask])], perm=[0, 2, 1])  # (1, C, P)
        self.node("Reshape", [out, self.init(np.array([1, c_in, oh, ow], np.int64))], [self.out_name(outs[0])])
        self.nchw.add(outs[0])

    def op_TransformLandmarks(self, op, ins, outs, opts):
        """v2: 2-D (or 3-D, z copied) landmarks through the matrix's first two rows."""
        lm = self.value(ins[0])  # (1, N, D)
        dims = self.shape(ins[0])[-1]
        m = self.value(ins[1])  # (1, 4, 4)
        lin = self.node("Slice", [m, self.init(np.array([0, 0], np.int64)), self.init(np.array([2, 2], np.int64)),
                                  self.init(np.array([1, 2], np.int64))])  # (1, 2, 2)
        shift = self.node("Slice", [m, self.init(np.array([0, 3], np.int64)), self.init(np.array([2, 4], np.int64)),
                                    self.init(np.array([1, 2], np.int64))])  # (1, 2, 1)
        xy = lm if dims == 2 else self.node("Slice", [lm, self.init(np.array([0], np.int64)),
                                                      self.init(np.array([2], np.int64)),
                                                      self.init(np.array([2], np.int64))])
        out = self.node("Add", [self.node("MatMul", [xy, self.node("Transpose", [lin], perm=[0, 2, 1])]),
                                self.node("Transpose", [shift], perm=[0, 2, 1])])
        if dims == 3:
            z = self.node("Slice", [lm, self.init(np.array([2], np.int64)), self.init(np.array([3], np.int64)),
                                    self.init(np.array([2], np.int64))])
            out = self.node("Concat", [out, z], axis=2)
        self.node("Identity", [out], [self.out_name(outs[0])])


def convert_file(src: str, dst: str, name: str) -> None:
    import onnx

    model = Converter(open(src, "rb").read(), name).convert()
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, dst)
    print(f"[convert] {os.path.relpath(dst, ROOT)}: {os.path.getsize(dst) / 1e6:.2f} MB, "
          f"{len(model.graph.node)} nodes")


def check(path: str) -> None:
    import onnxruntime as ort

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    x = np.random.default_rng(0).random([int(d) for d in inp.shape], dtype=np.float32)
    outs = sess.run(None, {inp.name: x})
    print("   ", {o.name: v.shape for o, v in zip(sess.get_outputs(), outs)})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--modules", help="mediapipe/modules folder (default: the wheel in .venv)")
    ap.add_argument("--out", default=os.path.join(ROOT, "models"))
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)
    modules = args.modules or mediapipe_modules_dir()
    for dst, src in MODELS.items():
        out = os.path.join(args.out, dst)
        convert_file(os.path.join(modules, src), out, os.path.splitext(dst)[0])
        if args.check:
            check(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
