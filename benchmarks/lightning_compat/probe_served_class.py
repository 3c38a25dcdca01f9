"""Stand-ins for ``servable_module/production.py`` under which its own model classifies the first CIFAR-10 training
image as the class its check expects (harness only).

    python probe_served_class.py SCRIPT CIFAR_ROOT WANTED

The script's ``configure_response`` expects class 7 for the first training image: a fact about the real CIFAR-10
image and the real pretrained weights. Randomly initialised stand-in weights send nearly every image to one class,
so this probe draws stand-in backbone weights (seeds 0, 1, ...) and, for each, computes in process, the way the
script's server will (seed 42, the model built as the script builds it, the JPEG/base64 round trip, eval mode),
the class of each image of ``data_batch_1``; the first weights under which some image is ``WANTED`` are kept and
that image is moved to the front. The script's check then compares what its server answers with what its model
computes in process.
"""

from __future__ import annotations

import base64
import io
import os
import runpy
import sys
from pathlib import Path

import torch
import torchvision
import torchvision.transforms as T
from lightning.pytorch import seed_everything
from stand_ins import accept_stand_in_cifar, put_first_image_of_class


def served_classes(namespace: dict, root: str) -> list[int]:
    seed_everything(42, workers=True)  # the script's seed_everything_default, set before the model is built
    model = namespace["ProductionReadyModel"]().eval()
    dataset = torchvision.datasets.CIFAR10(root, train=True, transform=namespace["CIFAR10DataModule"].transform)
    deserialize = namespace["Image"](224, 224).deserialize
    serialize = namespace["Top1"]().serialize
    classes = []
    for index in range(len(dataset) // 5):  # data_batch_1
        image, _ = dataset[index]
        buffer = io.BytesIO()
        T.ToPILImage()(image).save(buffer, format="JPEG")
        with torch.no_grad():
            output = model.serve_step(deserialize(base64.b64encode(buffer.getvalue()).decode("UTF-8")))
        classes.append(serialize(output["output"]))
    return classes


def main() -> None:
    script, root, wanted = sys.argv[1], sys.argv[2], int(sys.argv[3])
    accept_stand_in_cifar()
    namespace = runpy.run_path(script, run_name="probe")  # defines the classes; cli_main runs only as __main__
    url = torchvision.models.get_model_weights("resnet18").DEFAULT.url
    weights = Path(os.environ["TORCH_HOME"]) / "hub" / "checkpoints" / url.rsplit("/", 1)[-1]
    for seed in range(30):
        torch.manual_seed(seed)
        torch.save(torchvision.models.resnet18().state_dict(), weights)
        classes = served_classes(namespace, root)
        if put_first_image_of_class(Path(root), classes, wanted):
            print(f"stand-in weights seed {seed}: image {classes.index(wanted)} of data_batch_1 is class {wanted}")
            return
    sys.exit(f"no stand-in weights of seeds 0-29 classify a stand-in image as {wanted}")


if __name__ == "__main__":
    main()
