"""Raw inputs in, answers out: the preprocessing and the reading of the outputs, put inside an exported graph.

The network graph that :mod:`flashtrain.tasks.export` traces takes prepared tensors. Here it gets, in front of it:

- tables (ONNX only: strings are not tensors in PyTorch): one input per column, shape (N,): ``string`` for a
  categorical column (``""`` = missing) and ``double`` for a numerical one (NaN = missing). The graph looks the
  categories up in the training vocabulary (missing -> 0, unseen -> 1; ``ai.onnx.ml.LabelEncoder``), fills missing
  numbers with the training median, adds the missing indicators and standardises, in float64 then float32 as
  :class:`~flashtrain.tasks.tabular.preprocessing.TabularPreprocessing` does, so the network sees the same numbers.
- images (every format): one uint8 image, H x W x 3 (RGB) of any size; the graph resizes (bilinear, antialiased)
  to the training size, scales to [0, 1] and normalises.

and behind it (ONNX): ``probabilities`` (softmax, or sigmoid for multi-label), ``label`` (the class name; for
multi-label ``predicted``, one 0/1 per label) and the raw ``logits``; regressors answer ``values`` in the targets'
units. A calibration temperature and decision thresholds stored in the checkpoint are applied here as in
``predict`` (see :mod:`flashtrain.tasks.calibration`).

The ONNX parts are written with ``onnx.helper`` and joined to the network with ``onnx.compose.merge_models``
(standard ops only, so onnxruntime alone runs the file: no torch, no pandas at inference).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from flashtrain.tasks import registry

ML_DOMAIN = "ai.onnx.ml"
ML_OPSET = 3  # LabelEncoder with string keys -> int64 values (onnxruntime supports ai.onnx.ml up to 5)


@dataclass
class Reading:
    """How a classifier's logits become answers: the calibration temperature and the decision thresholds."""

    labels: list[str]
    multi_label: bool = False
    temperature: float = 1.0
    thresholds: list[float] | None = None  # binary: [threshold on the second class]; multi-label: one per label


# -- images -------------------------------------------------------------------------------------------------------
class ImageInput(torch.nn.Module):
    """uint8 (H, W, 3) of any size -> the network's input (1, 3, S, S): resized, scaled to [0, 1], normalised.

    The resize is computed in float and rounded back to whole intensities, as torchvision's resize of a uint8
    image rounds; torchvision's uint8 kernel uses fixed-point arithmetic, so a pixel may differ by one level (the
    export check compares the labels and reports the probability difference)."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, size: tuple[int, int], mean: list[float], std: list[float]) -> None:
        super().__init__()
        self.size = size
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        pixels = image.permute(2, 0, 1).unsqueeze(0).float()
        resized = torch.nn.functional.interpolate(
            pixels, size=self.size, mode="bilinear", antialias=True, align_corners=False
        )
        return (resized.round().clamp(0, 255) / 255 - self.mean) / self.std


def random_images(count: int, seed: int = 0, smallest: int = 8, largest: int = 64) -> list[np.ndarray]:
    """Check inputs: uint8 RGB images of random sizes."""
    rng = np.random.default_rng(seed)
    return [
        rng.integers(
            0, 256, (int(rng.integers(smallest, largest + 1)), int(rng.integers(smallest, largest + 1)), 3)
        ).astype(np.uint8)
        for _ in range(count)
    ]


# -- tables -------------------------------------------------------------------------------------------------------
def tabular_input_model(preprocessing: Any, opset: int, ir_version: int) -> Any:
    """The ONNX graph from one input per column to ``categorical`` (N, C) int64 and ``numerical`` (N, F) float32."""
    from onnx import TensorProto, helper

    from flashtrain.tasks.tabular.preprocessing import MISSING, RESERVED, UNKNOWN

    nodes: list[Any] = []
    inputs: list[Any] = []
    initializers: list[Any] = []
    axis_one = helper.make_tensor("pre/axis1", TensorProto.INT64, [1], [1])
    initializers.append(axis_one)

    def column(name: str, kind: int) -> Any:
        inputs.append(helper.make_tensor_value_info(name, kind, ["batch"]))

    categorical_columns = []
    for index, name in enumerate(preprocessing.categorical_fields):
        vocabulary = [str(value) for value in preprocessing.vocabularies[name]]
        if "" in vocabulary:
            raise ValueError(
                f"categorical column {name!r} has the empty string among its training values; the exported graph "
                "reads an empty string as missing. Export with preprocessing=False (--no-preprocessing)."
            )
        column(name, TensorProto.STRING)
        code, wide = f"pre/cat{index}", f"pre/cat{index}_2d"
        nodes.append(
            helper.make_node(
                "LabelEncoder",
                [name],
                [code],
                domain=ML_DOMAIN,
                keys_strings=["", *vocabulary],
                values_int64s=[MISSING, *range(RESERVED, RESERVED + len(vocabulary))],
                default_int64=UNKNOWN,
            )
        )
        nodes.append(helper.make_node("Unsqueeze", [code, "pre/axis1"], [wide]))
        categorical_columns.append(wide)

    numerical_columns, indicator_columns = [], []
    for index, name in enumerate(preprocessing.numerical_fields):
        column(name, TensorProto.DOUBLE)
        p = f"pre/num{index}"
        constants = {
            "fill": preprocessing.fill_values[name],
            "mean": preprocessing.means[name],
            "std": preprocessing.stds[name],
        }
        for key, value in constants.items():
            initializers.append(helper.make_tensor(f"{p}_{key}", TensorProto.DOUBLE, [], [value]))
        nodes += [
            helper.make_node("IsNaN", [name], [f"{p}_missing"]),
            helper.make_node("Where", [f"{p}_missing", f"{p}_fill", name], [f"{p}_filled"]),
            helper.make_node("Sub", [f"{p}_filled", f"{p}_mean"], [f"{p}_centred"]),
            helper.make_node("Div", [f"{p}_centred", f"{p}_std"], [f"{p}_scaled"]),
            helper.make_node("Cast", [f"{p}_scaled"], [f"{p}_float"], to=TensorProto.FLOAT),
            helper.make_node("Unsqueeze", [f"{p}_float", "pre/axis1"], [f"{p}_2d"]),
        ]
        numerical_columns.append(f"{p}_2d")
        if name in preprocessing.indicator_fields:
            nodes += [
                helper.make_node("Cast", [f"{p}_missing"], [f"{p}_indicator"], to=TensorProto.FLOAT),
                helper.make_node("Unsqueeze", [f"{p}_indicator", "pre/axis1"], [f"{p}_indicator_2d"]),
            ]
            indicator_columns.append((preprocessing.indicator_fields.index(name), f"{p}_indicator_2d"))
    numerical_columns += [name for _, name in sorted(indicator_columns)]

    first = inputs[0].name
    outputs = []
    for output, parts, kind in (
        ("categorical", categorical_columns, TensorProto.INT64),
        ("numerical", numerical_columns, TensorProto.FLOAT),
    ):
        if parts:
            nodes.append(helper.make_node("Concat", parts, [output], axis=1))
        else:  # no such columns: an empty (N, 0) tensor, as the network was traced with
            initializers.append(helper.make_tensor(f"pre/{output}_zero", TensorProto.INT64, [1], [0]))
            nodes += [
                helper.make_node("Shape", [first], [f"pre/{output}_rows"]),
                helper.make_node(
                    "Concat", [f"pre/{output}_rows", f"pre/{output}_zero"], [f"pre/{output}_shape"], axis=0
                ),
                helper.make_node(
                    "ConstantOfShape",
                    [f"pre/{output}_shape"],
                    [output],
                    value=helper.make_tensor("zero", kind, [1], [0]),
                ),
            ]
        outputs.append(helper.make_tensor_value_info(output, kind, ["batch", None]))
    graph = helper.make_graph(nodes, "tabular_preprocessing", inputs, outputs, initializer=initializers)
    return _model(graph, opset, ir_version)


def random_rows(
    preprocessing: Any, count: int, seed: int = 0, unseen: float = 0.05, missing: float = 0.1
) -> list[dict[str, Any]]:
    """Check rows: known categories, with ``unseen`` of them never seen in training and ``missing`` missing; numbers
    around the training mean, ``missing`` of them NaN."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = [{} for _ in range(count)]
    for name in preprocessing.categorical_fields:
        vocabulary = list(preprocessing.vocabularies[name]) or ["?"]
        draw = rng.random(count)
        picks = rng.integers(0, len(vocabulary), count)
        for row, (u, pick) in zip(rows, zip(draw, picks)):
            row[name] = None if u < missing else f"unseen-{pick}" if u < missing + unseen else vocabulary[pick]
    for name in preprocessing.numerical_fields:
        values = rng.normal(preprocessing.means[name], preprocessing.stds[name], count)
        values[rng.random(count) < missing] = np.nan
        for row, value in zip(rows, values):
            row[name] = float(value)
    return rows


def tabular_feed(preprocessing: Any, rows: list[dict]) -> dict[str, np.ndarray]:
    """The ONNX graph's inputs for rows given as dicts (None / NaN for missing)."""
    feed: dict[str, np.ndarray] = {}
    for name in preprocessing.categorical_fields:
        feed[name] = np.array(["" if row.get(name) is None else str(row[name]) for row in rows], dtype=object)
    for name in preprocessing.numerical_fields:
        feed[name] = np.array([np.nan if row.get(name) is None else row[name] for row in rows], dtype=np.float64)
    return feed


# -- reading the outputs ------------------------------------------------------------------------------------------
def classifier_output_model(reading: Reading, opset: int, ir_version: int) -> Any:
    """``logits`` (N, K) -> ``probabilities``, ``label`` (or ``predicted`` for multi-label), and ``logits``."""
    from onnx import TensorProto, helper, numpy_helper

    classes = len(reading.labels)
    initializers = [
        helper.make_tensor("post/temperature", TensorProto.FLOAT, [], [reading.temperature]),
        numpy_helper.from_array(np.array([str(v) for v in reading.labels], dtype=object), "post/labels"),
    ]
    nodes = [
        helper.make_node("Div", ["post/logits_in", "post/temperature"], ["post/scaled"]),
        helper.make_node("Identity", ["post/logits_in"], ["logits"]),
    ]
    outputs = [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", classes])]
    if reading.multi_label:
        thresholds = reading.thresholds or [0.5] * classes
        initializers.append(helper.make_tensor("post/thresholds", TensorProto.FLOAT, [classes], thresholds))
        nodes += [
            helper.make_node("Sigmoid", ["post/scaled"], ["probabilities"]),
            helper.make_node("GreaterOrEqual", ["probabilities", "post/thresholds"], ["post/above"]),
            helper.make_node("Cast", ["post/above"], ["predicted"], to=TensorProto.INT64),
        ]
        outputs.append(helper.make_tensor_value_info("predicted", TensorProto.INT64, ["batch", classes]))
    else:
        nodes.append(helper.make_node("Softmax", ["post/scaled"], ["probabilities"], axis=-1))
        if reading.thresholds is not None:  # binary: the second class when its probability reaches the threshold
            initializers += [
                helper.make_tensor("post/threshold", TensorProto.FLOAT, [], [reading.thresholds[0]]),
                helper.make_tensor("post/second", TensorProto.INT64, [], [1]),
            ]
            nodes += [
                helper.make_node("Gather", ["probabilities", "post/second"], ["post/p1_flat"], axis=1),
                helper.make_node("GreaterOrEqual", ["post/p1_flat", "post/threshold"], ["post/positive"]),
                helper.make_node("Cast", ["post/positive"], ["post/index"], to=TensorProto.INT64),
            ]
        else:
            nodes.append(helper.make_node("ArgMax", ["post/scaled"], ["post/index"], axis=1, keepdims=0))
        nodes.append(helper.make_node("Gather", ["post/labels", "post/index"], ["label"], axis=0))
        outputs.append(helper.make_tensor_value_info("label", TensorProto.STRING, ["batch"]))
    outputs.append(helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", classes]))
    graph = helper.make_graph(
        nodes,
        "classifier_outputs",
        [helper.make_tensor_value_info("post/logits_in", TensorProto.FLOAT, ["batch", classes])],
        outputs,
        initializer=initializers,
    )
    return _model(graph, opset, ir_version)


def regressor_output_model(targets: int, opset: int, ir_version: int) -> Any:
    """The network's values (already in the targets' units) under the name ``values``."""
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["post/values_in"], ["values"])],
        "regressor_outputs",
        [helper.make_tensor_value_info("post/values_in", TensorProto.FLOAT, ["batch", targets])],
        [helper.make_tensor_value_info("values", TensorProto.FLOAT, ["batch", targets])],
    )
    return _model(graph, opset, ir_version)


def join(network: Any, before: Any | None, after: Any, network_output: str = "output") -> Any:
    """``before`` -> network -> ``after`` as one checked ONNX model; the network's inner names get the prefix
    ``net/`` (so they cannot collide with the column names of a table)."""
    import onnx
    from onnx import compose

    network = compose.add_prefix(network, "net/", rename_inputs=before is not None)  # no `before`: inputs as named
    if before is not None:
        io_map = [(out.name, f"net/{out.name}") for out in before.graph.output]
        network = compose.merge_models(before, network, io_map=io_map)
    joined = compose.merge_models(network, after, io_map=[(f"net/{network_output}", after.graph.input[0].name)])
    onnx.checker.check_model(joined)
    return joined


def opset_of(model: Any) -> tuple[int, int]:
    """The default-domain opset and the IR version of a model, which the joined parts must share."""
    opset = next(entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx"))
    return opset, model.ir_version


def _model(graph: Any, opset: int, ir_version: int) -> Any:
    from onnx import helper

    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid(ML_DOMAIN, ML_OPSET)]
    )
    model.ir_version = ir_version
    return model


# -- the raw-input export and its check ---------------------------------------------------------------------------
CHECK_ROWS = 200
CHECK_IMAGES = 12
IMAGE_PROBABILITY_TOLERANCE = 0.02  # torchvision's uint8 resize rounds in fixed point; see ImageInput


def holds_preprocessing(predictor: Any, format: str) -> bool:
    """Whether ``format`` can hold the task's preprocessing: images in every format; tables only in ONNX (their
    inputs are strings, which PyTorch graphs cannot take). Text: :mod:`flashtrain.tasks.text.onnx_tokenizer` (which
    builds on this module) decides, called by :func:`flashtrain.tasks.export.export`."""
    inputs = registry.get(predictor.task_name).inputs  # the task's kind of input decides which graph can prepare it
    return inputs == "files" or (inputs == "table" and format == "onnx")


class _ImageRaw(torch.nn.Module):
    def __init__(self, network: torch.nn.Module, size: tuple[int, int], mean: list[float], std: list[float]) -> None:
        super().__init__()
        self.prepare = ImageInput(size, mean, std)
        self.network = network

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.network(self.prepare(image))


def raw_export(format: str, predictor: Any, network: torch.nn.Module, path: str, reading: Reading | None) -> dict:
    """Write the raw-input graph of ``predictor``'s model to ``path`` (replacing the prepared-tensor graph), check
    it against ``predictor`` on generated raw inputs, and return its description for ``preprocessing.json``."""
    if registry.get(predictor.task_name).inputs == "files":
        return _image_export(format, predictor, network, path, reading)
    return _tabular_export(predictor, path, reading)


def _tabular_export(predictor: Any, path: str, reading: Reading | None) -> dict:
    import onnx

    preprocessing = predictor.preprocessing
    network = onnx.load(path)
    opset, ir_version = opset_of(network)
    before = tabular_input_model(preprocessing, opset, ir_version)
    if reading is None:
        after = regressor_output_model(len(preprocessing.target_fields), opset, ir_version)
    else:
        after = classifier_output_model(reading, opset, ir_version)
    onnx.save(join(network, before, after), path)
    rows = random_rows(preprocessing, CHECK_ROWS)
    session = _session(path)
    produced = session.run(None, tabular_feed(preprocessing, rows))
    names = [output.name for output in session.get_outputs()]
    check_against(predictor, rows, dict(zip(names, produced)), reading, path, probability_tolerance=None)
    inputs = [{"name": n, "dtype": "string", "shape": ["batch"]} for n in preprocessing.categorical_fields]
    inputs += [{"name": n, "dtype": "float64", "shape": ["batch"]} for n in preprocessing.numerical_fields]
    return {
        "inside": True,
        "inputs": inputs,
        "outputs": names,
        "steps": "one input per column: categorical as strings ('' = missing; numbers as their text, e.g. '3'), "
        "numerical as float64 (NaN = missing). Inside: vocabulary lookup (missing and unseen buckets), median fill, "
        "missing indicators, standardisation, then "
        + ("the values in the targets' units" if reading is None else "softmax and the label lookup"),
        "parameters": preprocessing.state_dict(),
    }


def _image_export(format: str, predictor: Any, network: torch.nn.Module, path: str, reading: Reading | None) -> dict:
    config = predictor.model.image_config
    module = _ImageRaw(network, config.size, list(config.mean), list(config.std)).eval()
    example = torch.from_numpy(random_images(1, seed=1)[0])
    dims = ({0: torch.export.Dim.AUTO, 1: torch.export.Dim.AUTO},)
    images = random_images(CHECK_IMAGES)
    if format == "onnx":
        import onnx

        torch.onnx.export(
            module, (example,), path, input_names=["image"], output_names=["output"], dynamic_shapes=dims,
            dynamo=True, external_data=False, verbose=False,
        )  # fmt: skip
        exported = onnx.load(path)
        assert reading is not None  # image models are classifiers
        onnx.save(join(exported, None, classifier_output_model(reading, *opset_of(exported))), path)
        session = _session(path)
        names = [output.name for output in session.get_outputs()]
        runs = [session.run(None, {"image": image}) for image in images]
        produced = {name: np.concatenate([run[i] for run in runs]) for i, name in enumerate(names)}
    else:
        produced = {"logits": _torch_raw(format, module, example, dims, path, images)}
        names = ["logits"]
    check_against(predictor, images, produced, reading, path, probability_tolerance=IMAGE_PROBABILITY_TOLERANCE)
    return {
        "inside": True,
        "inputs": [{"name": "image", "dtype": "uint8", "shape": ["height", "width", 3]}],
        "outputs": names,
        "image_size": list(config.size),
        "mean": list(config.mean),
        "std": list(config.std),
        "steps": "one RGB image, uint8 height x width x 3, any size; inside: bilinear antialiased resize to "
        "image_size, scaling to [0, 1], the mean/std normalisation"
        + (", softmax and the label lookup" if format == "onnx" else "; the output is logits"),
    }


def _torch_raw(format: str, module: torch.nn.Module, example: torch.Tensor, dims: Any, path: str, images: list) -> Any:
    with torch.no_grad():
        if format == "exported-program":
            program = torch.export.export(module, (example,), dynamic_shapes=dims)
            torch.export.save(program, path)
            loaded = torch.export.load(path).module()
        else:
            scripted = torch.jit.trace(module, (example,), check_trace=False)
            torch.jit.save(scripted, path)
            loaded = torch.jit.load(path)
        return torch.cat([loaded(torch.from_numpy(image)) for image in images]).numpy()


def _session(path: str) -> Any:
    import onnxruntime

    return onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])


def check_against(
    predictor: Any, inputs: list, produced: dict[str, np.ndarray], reading: Reading | None, path: str,
    probability_tolerance: float | None,
) -> None:  # fmt: skip
    """The raw-input graph's answers against ``predictor``'s on the same raw inputs: labels equal, probabilities
    within 1e-5 (tables; images: ``probability_tolerance``), values within 1e-4 relative; else a RuntimeError."""
    if registry.get(predictor.task_name).inputs == "files":
        from PIL import Image

        inputs = [Image.fromarray(image, mode="RGB") for image in inputs]
    with torch.no_grad():
        logits = predictor.forward(predictor.prepare(inputs))
    if reading is None:
        expected = logits.numpy()
        if not np.allclose(produced["values"], expected, rtol=1e-4, atol=1e-4 * float(np.abs(expected).max() + 1)):
            _fail(path, f"values differ by up to {float(np.abs(produced['values'] - expected).max()):.3g}")
        return
    expected_probabilities = np.array(predictor.format(logits, "probabilities"), dtype=np.float32)
    probabilities = produced.get("probabilities")
    if probabilities is None:  # a PyTorch graph: logits out
        probabilities = np.array(predictor.format(torch.from_numpy(produced["logits"]), "probabilities"))
    difference = float(np.abs(probabilities - expected_probabilities).max())
    tolerance = probability_tolerance or 1e-5
    if difference > tolerance:
        _fail(path, f"probabilities differ by up to {difference:.3g} (allowed {tolerance:g})")
    if reading.multi_label:
        return  # thresholds on probabilities that agree; the difference was checked above
    expected_labels = [str(label) for label in predictor.format(logits, "labels")]
    if "label" in produced:
        labels = [value.decode() if isinstance(value, bytes) else str(value) for value in produced["label"]]
    else:
        labels = [str(label) for label in predictor.format(torch.from_numpy(produced["logits"]), "labels")]
    if reading.thresholds is not None:  # binary with a threshold: how far from it
        margin = np.abs(expected_probabilities[:, 1] - reading.thresholds[0])
    else:
        ordered = np.sort(expected_probabilities, axis=1)
        margin = ordered[:, -1] - ordered[:, -2]
    clear = margin > 2 * difference + 1e-6  # not a tie within the measured difference
    wrong = [i for i, (a, b) in enumerate(zip(labels, expected_labels)) if a != b and clear[i]]
    if wrong:
        _fail(path, f"{len(wrong)} of {len(labels)} labels differ (first: input {wrong[0]}: {labels[wrong[0]]!r} "
              f"instead of {expected_labels[wrong[0]]!r})")  # fmt: skip


def _fail(path: str, what: str) -> None:
    raise RuntimeError(
        f"the export with preprocessing inside does not reproduce the checkpoint's predictions on raw inputs: {what}. "
        f"The file is at {path}; do not use it."
    )


def reading_of(model: Any) -> Reading | None:
    """The :class:`Reading` of a classifier (its labels, calibration temperature and thresholds); None for a
    regressor."""
    if not hasattr(model, "labels") or hasattr(model, "to_original_units"):
        return None
    reading = Reading([str(label) for label in model.labels], bool(getattr(model, "multi_label", False)))
    calibration = getattr(model, "calibration", None)
    if calibration is not None:
        reading.temperature = float(calibration.temperature)
        reading.thresholds = calibration.thresholds.tolist() if calibration.uses_thresholds else None
    return reading
