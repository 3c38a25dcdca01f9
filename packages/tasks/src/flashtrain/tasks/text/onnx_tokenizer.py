"""The tokenizer inside a text model's ONNX export: one raw string in, the label out.

onnxruntime-extensions expresses a BERT WordPiece tokenizer (BERT, DistilBERT, MiniLM, ...) as one custom op,
``ai.onnx.contrib.BertTokenizer``; ``gen_processing_models`` builds it from the Hugging Face tokenizer. Two of its
settings are corrected here so that the graph tokenizes as the model's tokenizer does (checked on texts with
accents, CJK, emoji, whitespace runs and texts longer than ``max_length``):

- ``strip_accents``: Hugging Face strips accents whenever it lowercases unless told otherwise; the generated op does
  not (``"café"`` would become ``[UNK]``);
- ``max_length``: the model's truncation length (the op keeps every token unless given one).

The op tokenizes one text (or one pair) per call, so the graph takes one string, shape (1,), as the image graph
takes one image. Running the file needs ``onnxruntime`` and ``onnxruntime-extensions``
(``session_options.register_custom_ops_library(onnxruntime_extensions.get_library_path())``); no torch, no
transformers. Any other tokenizer (BPE, SentencePiece, ...) stays beside the model in ``tokenizer/`` and
``preprocessing.json`` says why.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from flashtrain.tasks.export_preprocessing import Reading, check_against, classifier_output_model, join, opset_of

TOKENIZER_DOMAIN = "ai.onnx.contrib"
WORDPIECE_OP = "BertTokenizer"
INPUT_NAME = "text"
# Checked at export against the model's own tokenizer and network: accents, CJK, emoji, punctuation, whitespace runs,
# and a text longer than any max_length (truncation).
CHECK_TEXTS = [
    "A plain sentence.",
    "Naïve façade, résumé and Ångström: café au lait!",
    "中文字符 mixed with English and emoji 🙂",
    "Don't stop\tbelieving -- 123,456.78 (tabs,\nnewlines   and spaces)",
    "ﬁ ligatures, ½ fractions & symbols #@%",
    " ".join(f"word{i}" for i in range(600)),
]


def outside_reason(tokenizer: Any, max_length: int) -> str | None:
    """Why ``tokenizer`` cannot go inside the ONNX graph; None when it can: onnxruntime-extensions is installed, builds
    a BertTokenizer op for it, and that op gives the tokenizer's own ids on :data:`CHECK_TEXTS`."""
    try:
        import onnxruntime_extensions  # noqa: F401
    except ImportError:
        return (
            "onnxruntime-extensions is not installed, and without it a tokenizer is not expressible in ONNX ops "
            '(pip install "flashtrain-tasks[export]" puts a BERT WordPiece tokenizer inside the graph)'
        )
    try:
        names = [name for name in tokenizer.model_input_names if name in ("input_ids", "token_type_ids")]
        model = tokenizer_input_model(tokenizer, max_length, names + ["attention_mask"], CHECK_OPSET, CHECK_IR)
    except Exception as error:  # onnxruntime-extensions raises whatever its converter meets on other tokenizers
        return (
            f"the tokenizer ({type(tokenizer).__name__}) is not a BERT WordPiece tokenizer, the one kind this export "
            f"puts inside the graph with onnxruntime-extensions ({str(error).strip() or type(error).__name__})"
        )
    produced = run_texts(session(model.SerializeToString()), CHECK_TEXTS)
    for index, text in enumerate(CHECK_TEXTS):
        expected = tokenizer(text, truncation=True, max_length=max_length)
        for name in names + ["attention_mask"]:
            if np.asarray(produced[name][index]).tolist() != list(expected[name]):
                return (
                    f"onnxruntime-extensions' BertTokenizer op gives other {name} than the model's tokenizer "
                    f"({type(tokenizer).__name__}) on the text {text[:40]!r}"
                )
    return None


CHECK_OPSET, CHECK_IR = 17, 8  # the tokenizer graph alone, checked before it is joined to the network's opset


def _generated(tokenizer: Any) -> Any:
    """onnxruntime-extensions' tokenizer model for ``tokenizer``: a single BertTokenizer node, else a ValueError."""
    from onnxruntime_extensions import gen_processing_models

    model = gen_processing_models(tokenizer, pre_kwargs={})[0]
    if model is None or [node.op_type for node in model.graph.node] != [WORDPIECE_OP]:
        raise ValueError(f"onnxruntime-extensions builds {[n.op_type for n in model.graph.node] if model else None}")
    return model


def tokenizer_node(tokenizer: Any, max_length: int) -> Any:
    """The BertTokenizer node for ``tokenizer``, with Hugging Face's accent rule and the model's truncation length."""
    from onnx import helper

    node = _generated(tokenizer).graph.node[0]
    attributes = {attribute.name: attribute for attribute in node.attribute}
    lowercase = (
        bool(helper.get_attribute_value(attributes["do_lower_case"])) if "do_lower_case" in attributes else False
    )
    strip = tokenizer.init_kwargs.get("strip_accents")
    strip_accents = lowercase if strip is None else bool(strip)  # Hugging Face's BasicTokenizer rule
    kept = [attribute for attribute in node.attribute if attribute.name not in ("strip_accents", "max_length")]
    del node.attribute[:]
    node.attribute.extend(kept)
    node.attribute.extend(
        [helper.make_attribute("strip_accents", int(strip_accents)), helper.make_attribute("max_length", max_length)]
    )
    return node


def tokenizer_input_model(tokenizer: Any, max_length: int, names: list[str], opset: int, ir_version: int) -> Any:
    """One string, shape (1,) -> the network's tensors ``names`` (``input_ids``, ``attention_mask``, ...), (1, L)."""
    from onnx import TensorProto, helper

    node = tokenizer_node(tokenizer, max_length)
    produced = list(node.output)  # input_ids, token_type_ids, attention_mask, offset_mapping
    renamed = {name: f"pre/{name}" for name in produced}
    node.input[:] = [INPUT_NAME]
    node.output[:] = [renamed[name] for name in produced]
    missing = [name for name in names if name not in renamed]
    if missing:
        raise ValueError(f"the tokenizer op produces {produced}, not the model's inputs {missing}")
    axis = helper.make_tensor("pre/axis0", TensorProto.INT64, [1], [0])
    nodes = [node] + [helper.make_node("Unsqueeze", [renamed[name], "pre/axis0"], [name]) for name in names]
    graph = helper.make_graph(
        nodes,
        "tokenizer",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.STRING, [1])],
        [helper.make_tensor_value_info(name, TensorProto.INT64, [1, "sequence"]) for name in names],
        initializer=[axis],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid(TOKENIZER_DOMAIN, 1)]
    )
    model.ir_version = ir_version
    return model


def session(path: str | bytes) -> Any:
    """An onnxruntime session for a file with the tokenizer inside (onnxruntime-extensions' ops registered)."""
    import onnxruntime
    from onnxruntime_extensions import get_library_path

    options = onnxruntime.SessionOptions()
    options.register_custom_ops_library(get_library_path())
    return onnxruntime.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def run_texts(path_or_session: Any, texts: list[str]) -> dict[str, np.ndarray]:
    """The exported graph's outputs for ``texts`` (one run per text, concatenated), by output name."""
    runner = session(path_or_session) if isinstance(path_or_session, (str, bytes)) else path_or_session
    names = [output.name for output in runner.get_outputs()]
    runs = [runner.run(None, {INPUT_NAME: np.array([text], dtype=object)}) for text in texts]
    return {name: _stack([run[i] for run in runs]) for i, name in enumerate(names)}


def _stack(parts: list[np.ndarray]) -> np.ndarray:
    """One row per text; token outputs of different lengths as an object array of rows."""
    if len({part.shape[1:] for part in parts}) == 1:
        return np.concatenate(parts)
    rows = np.empty(len(parts), dtype=object)
    rows[:] = [part[0] for part in parts]
    return rows


def text_export(predictor: Any, path: str, reading: Reading) -> dict:
    """Put the tokenizer in front of the ONNX network at ``path`` and the output reading behind it; check the file
    on :data:`CHECK_TEXTS` against ``predictor``; return its description for ``preprocessing.json``."""
    import onnx

    network = onnx.load(path)
    opset, ir_version = opset_of(network)
    names = [name.name for name in network.graph.input]
    before = tokenizer_input_model(predictor.tokenizer, predictor.max_length, names, opset, ir_version)
    onnx.save(join(network, before, classifier_output_model(reading, opset, ir_version)), path)
    produced = run_texts(path, CHECK_TEXTS)
    check_against(predictor, CHECK_TEXTS, produced, reading, path, probability_tolerance=TEXT_PROBABILITY_TOLERANCE)
    return {
        "inside": True,
        "tokenizer": "in graph",
        "inputs": [{"name": INPUT_NAME, "dtype": "string", "shape": [1]}],
        "outputs": list(produced),
        "max_length": predictor.max_length,
        "needs": "onnxruntime and onnxruntime-extensions (register onnxruntime_extensions.get_library_path() as "
        "a custom ops library)",
        "steps": "one text per run, a string tensor of shape (1,); inside: the model's WordPiece tokenizer "
        f"(onnxruntime-extensions' BertTokenizer op, truncation to {predictor.max_length} tokens), the network, "
        + ("sigmoid and the per-label thresholds" if reading.multi_label else "softmax and the label lookup"),
    }


# The network runs in float32 in both onnxruntime and PyTorch, with another summation order (the tensor graph's
# own check allows 1e-4 on logits); probabilities then agree to about 1e-6.
TEXT_PROBABILITY_TOLERANCE = 1e-4
