"""Packaging: the licence files and metadata agree (Apache-2.0, SPDX), every package declares its extras, the
flashtrain meta-package builds into a wheel with no code of its own, and a missing extra is named in the error."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["core", "tasks", "cli", "flashtrain"]
APACHE_2_SHA256 = (
    "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"  # apache.org/licenses/LICENSE-2.0.txt
)


def pyproject(package: str) -> dict:
    return tomllib.loads((ROOT / "packages" / package / "pyproject.toml").read_text())


def test_every_licence_file_is_the_apache_2_text_declared_in_the_metadata():
    for folder in [ROOT, *(ROOT / "packages" / p for p in PACKAGES)]:
        assert hashlib.sha256((folder / "LICENSE").read_bytes()).hexdigest() == APACHE_2_SHA256, folder
    for package in PACKAGES:
        project = pyproject(package)["project"]
        assert project["license"] == "Apache-2.0" and project["license-files"] == ["LICENSE"], package
        assert any(c.startswith("Programming Language :: Python :: 3.1") for c in project["classifiers"])
        # No made-up addresses: project URLs only once the real repository is known (none is recorded yet).
        assert "urls" not in project, (
            f"{package}: project URLs {project['urls']} (is the address real? update this test)"
        )
        assert pyproject(package)["build-system"]["requires"] == ["setuptools>=77"]  # first with PEP 639 licences
    assert (ROOT / "CHANGELOG.md").read_text().startswith("# Changelog")


def test_installed_metadata_has_the_spdx_licence_and_the_extras():
    for distribution in ("flashtrain-core", "flashtrain-tasks", "flashtrain-cli"):
        assert metadata.metadata(distribution)["License-Expression"] == "Apache-2.0"
    extras = set(metadata.metadata("flashtrain-tasks").get_all("Provides-Extra") or [])
    assert {"image", "text", "tabular", "export", "serve", "all"} <= extras
    assert "tensorboard" in set(metadata.metadata("flashtrain-core").get_all("Provides-Extra") or [])
    core_requires = metadata.requires("flashtrain-core") or []
    assert not [r for r in core_requires if r.startswith("tensorboard") and "extra" not in r]  # optional
    tasks_requires = metadata.requires("flashtrain-tasks") or []
    for heavy in ("timm", "transformers", "torchvision", "onnxruntime", "fastapi"):
        assert all("extra ==" in r for r in tasks_requires if r.startswith(heavy)), heavy


@pytest.mark.slow
def test_the_meta_package_builds_a_wheel_of_dependencies_only(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path),
         str(ROOT / "packages" / "flashtrain")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = tmp_path.glob("flashtrain-0.1.0-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        meta = archive.read("flashtrain-0.1.0.dist-info/METADATA").decode()
    assert not [n for n in names if n.endswith(".py")]  # no flashtrain/__init__.py: a PEP 420 namespace
    assert "License-Expression: Apache-2.0" in meta
    for requirement in ("flashtrain-core==0.1.0", "flashtrain-tasks==0.1.0", "flashtrain-cli==0.1.0"):
        assert f"Requires-Dist: {requirement}\n" in meta
    assert "Provides-Extra: image" in meta and 'flashtrain-tasks[image]==0.1.0; extra == "image"' in meta


def test_a_missing_extra_is_named(monkeypatch):
    import importlib.util

    from flashtrain.tasks.optional import require_extra

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "timm" else real(name, *a))
    with pytest.raises(ImportError, match=r'The image task needs timm, which is not installed.*"flashtrain\[image\]"'):
        require_extra("image", "The image task")
    require_extra("tabular", "The tabular tasks")  # installed: nothing raised


def test_importing_a_task_without_its_extra_says_which_to_install():
    code = "import sys\nsys.modules['transformers'] = None\nimport flashtrain.tasks.text\n"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode != 0
    assert last.startswith("ImportError: The text task needs transformers") and '"flashtrain[text]"' in last
