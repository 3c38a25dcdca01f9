"""Every case the harness runs, read from a Lightning Flash checkout (nothing of Flash's is committed here).

A case is Flash's code for the tasks flashtrain has (image classification single and multi-label, image and
text embedders, text classification single and multi-label, tabular classification and regression, serving):

- ``examples/...`` scripts, whole;
- ``examples/serve/<task>/`` server and client pairs;
- the code in ``docs/source/general/`` (predictions, finetuning, optimization, jit, serve): ``code-block``,
  ``testcode`` and ``doctest`` blocks, each with its group's ``testsetup``; jit.rst has no code, only a table of
  which task supports ``torch.jit.script`` / ``trace`` / ``save``, so each "Yes" of our tasks becomes a case
  written the way Flash's own ``tests/helpers/task_tester.py`` tests it;
- the task pages' snippets (``docs/source/reference/<task>.rst``) that are not ``literalinclude`` of the
  examples above (those would count the same code twice);
- the Flash Zero commands (``docs/source/general/flash_zero.rst`` and the task pages' ``bash`` blocks) for our
  tasks.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

EXAMPLES = [
    "image/image_classification.py",
    "image/image_classification_multi_label.py",
    "image/image_embedder.py",
    "text/text_classification.py",
    "text/text_classification_multi_label.py",
    "text/text_embedder.py",
    "tabular/tabular_classification.py",
    "tabular/tabular_regression.py",
]
SERVE_EXAMPLES = ["image_classification", "text_classification", "tabular_classification"]
GENERAL_PAGES = ["predictions", "finetuning", "optimization", "serve"]
TASK_PAGES = [
    "image_classification",
    "image_classification_multi_label",
    "image_embedder",
    "text_classification",
    "text_classification_multi_label",
    "text_embedder",
    "tabular_classification",
]
# Flash Zero's tasks that flashtrain has (Flash's own page spells one of them "tabular_classifier").
ZERO_TASKS = ("image_classification", "text_classification", "tabular_classification", "tabular_classifier")
# jit.rst's rows for tasks flashtrain has: (class, how to build one, an example forward input)
JIT_TASKS = {
    "ImageClassifier": (
        "ImageClassifier(num_classes=2, backbone='resnet18', pretrained=False)",
        "torch.rand(1, 3, 32, 32)",
    ),
    "ImageEmbedder": ("ImageEmbedder(backbone='resnet18', pretrained=False)", "torch.rand(1, 3, 32, 32)"),
    "TabularClassifier": (
        "TabularClassifier.from_data(TabularClassificationData.from_csv(categorical_fields=['Sex'], "
        "numerical_fields=['Fare'], target_fields='Survived', train_file='data/titanic.csv', batch_size=4))",
        # Flash's own form (tests/tabular/classification/test_model.py: example_forward_input)
        "{'continuous': torch.rand(1, 1), 'categorical': torch.zeros(1, 1, dtype=torch.long)}",
    ),
    "TextClassifier": (
        "TextClassifier(num_classes=2, backbone='prajjwal1/bert-medium')",
        "{'input_ids': torch.randint(0, 1000, (1, 8)), 'attention_mask': torch.ones(1, 8, dtype=torch.long)}",
    ),
}


@dataclass
class Case:
    name: str
    kind: str  # "script" (python), "serve" (server code + client code), "command" (a Flash Zero command line)
    code: str
    client: str = ""
    source: str = ""
    notes: list[str] = field(default_factory=list)


def _blocks(text: str) -> list[tuple[str, str, str]]:
    """(directive, argument, dedented body) for every ``.. directive:: argument`` block of an rst page."""
    lines = text.splitlines()
    found = []
    i = 0
    while i < len(lines):
        match = re.match(r"^\.\. ([\w-]+)::\s*(.*)$", lines[i])
        if not match:
            i += 1
            continue
        i += 1
        while i < len(lines) and re.match(r"^\s+:[\w-]+:", lines[i]):  # options
            i += 1
        body = []
        while i < len(lines) and (not lines[i].strip() or lines[i].startswith((" ", "\t"))):
            body.append(lines[i])
            i += 1
        found.append((match.group(1), match.group(2).strip(), textwrap.dedent("\n".join(body)).strip("\n")))
    return found


def _doctest_code(body: str) -> str:
    code = []
    for line in body.splitlines():
        if line.startswith(">>> ") or line == ">>>" or line.startswith("... ") or line == "...":
            code.append(line[4:])
    return "\n".join(re.sub(r"\s*# doctest:.*$", "", line) for line in code)


def _looks_like_python(body: str) -> bool:
    import ast

    if not re.search(r"^(import |from |\w+ = |\w+\(|class |def |@)", body, re.M):
        return False
    try:
        ast.parse(body)
    except SyntaxError:
        return "..." in body  # a fragment on purpose (``...`` for "your code"): still a snippet users copy
    return True


def _is_user_code(body: str) -> bool:
    """Python a user would run; not pseudocode (finetuning's ``backbone = Resnet50()``) nor a config listing."""
    return _looks_like_python(body) and bool(re.search(r"\bimport\b|flash|Classifier|Regressor|Embedder", body))


def _page_cases(page: Path, label: str) -> list[Case]:
    cases: list[Case] = []
    setups: dict[str, str] = {}
    seen_commands: set[str] = set()
    plain: list[str] = []  # serve.rst: its un-languaged code blocks are the pieces of one program
    for index, (directive, argument, body) in enumerate(_blocks(page.read_text())):
        where = f"{label} block {index + 1}"
        if directive == "testsetup":
            setups[argument] = body
        elif directive == "testcode":
            cases.append(
                Case(
                    f"{label}: testcode {len(cases) + 1}",
                    "script",
                    setups.get(argument, "") + "\n" + body,
                    source=where,
                )
            )
        elif directive == "doctest":
            code = _doctest_code(body)
            cases.append(
                Case(
                    f"{label}: doctest {len(cases) + 1}", "script", setups.get(argument, "") + "\n" + code, source=where
                )
            )
        elif directive == "code-block" and argument in ("python", "") and _is_user_code(body):
            if label == "general/serve" and argument == "":
                plain.append(body)
                continue
            cases.append(Case(f"{label}: code-block {len(cases) + 1}", "script", body, source=where))
        elif directive == "code-block" and argument == "bash":
            for line in body.splitlines():
                words = line.split()
                if line.strip() in seen_commands:
                    continue
                seen_commands.add(line.strip())
                if len(words) >= 2 and words[0] == "flash" and (words[1] in ZERO_TASKS or words[1] == "--help"):
                    cases.append(Case(f"{label}: `{line.strip()}`", "command", line.strip(), source=where))
    if plain:
        # serve.rst: imports, classify(), the component class, scripting resnet, serving; then the client.
        server = [b for b in plain if "requests.post" not in b and not b.startswith("def classify")]
        client = [b for b in plain if "requests.post" in b]
        cases.append(
            Case(
                f"{label}: the Composition walkthrough",
                "serve",
                "\n\n".join(server),
                client="\n\n".join(client),
                source=f"{label} code-blocks",
            )
        )
    return cases


def _jit_cases(page: Path) -> list[Case]:
    rows = re.findall(
        r"\* - :class:`~flash\.[\w.]+\.(\w+)`\n\s+- (\w+)\n\s+- (\w+)[^\n]*\n\s+- (\w+)", page.read_text()
    )
    cases = []
    for name, script, trace, save in rows:
        if name not in JIT_TASKS:
            continue
        build, example = JIT_TASKS[name]
        extra = ", TabularClassificationData" if name == "TabularClassifier" else ""
        head = (
            f"import torch\nfrom flash.{_flash_package(name)} import {name}{extra}\n\nmodel = {build}\nmodel.eval()\n"
        )
        if script == "Yes":
            code = head + "model = torch.jit.script(model)\n"
            if save == "Yes":
                code += "torch.jit.save(model, 'model.pt')\nmodel = torch.jit.load('model.pt')\n"
            cases.append(
                Case(
                    f"general/jit: {name} torch.jit.script",
                    "script",
                    code + f"print(model({example}))\n",
                    source="general/jit table",
                )
            )
        if trace == "Yes":
            strict = ", strict=False" if name == "TextClassifier" else ""
            code = head + f"model = model.to_torchscript(method='trace', example_inputs={example}{strict})\n"
            if save == "Yes":
                code += "torch.jit.save(model, 'model.pt')\nmodel = torch.jit.load('model.pt')\n"
            cases.append(
                Case(
                    f"general/jit: {name} trace",
                    "script",
                    code + f"print(model({example}))\n",
                    source="general/jit table",
                )
            )
    return cases


def _flash_package(name: str) -> str:
    return {"ImageClassifier": "image", "ImageEmbedder": "image", "TabularClassifier": "tabular"}.get(name, "text")


def all_cases(flash_src: Path) -> list[Case]:
    cases = [
        Case(f"examples/{script}", "script", (flash_src / "examples" / script).read_text(), source=script)
        for script in EXAMPLES
    ]
    for task in SERVE_EXAMPLES:
        folder = flash_src / "examples" / "serve" / task
        cases.append(
            Case(
                f"examples/serve/{task}",
                "serve",
                (folder / "inference_server.py").read_text(),
                client=(folder / "client.py").read_text(),
                source=f"serve/{task}",
            )
        )
    docs = flash_src / "docs" / "source"
    for page in GENERAL_PAGES:
        cases += _page_cases(docs / "general" / f"{page}.rst", f"general/{page}")
    cases += _jit_cases(docs / "general" / "jit.rst")
    cases += _page_cases(docs / "general" / "flash_zero.rst", "general/flash_zero")
    for page in TASK_PAGES:
        cases += _page_cases(docs / "reference" / f"{page}.rst", f"reference/{page}")
    return cases


if __name__ == "__main__":
    import sys

    for case in all_cases(Path(sys.argv[1] if len(sys.argv) > 1 else "/work/flash-src")):
        print(f"{case.kind:8s} {case.name}")
