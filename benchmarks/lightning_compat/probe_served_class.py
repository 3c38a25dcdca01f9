"""The class ``servable_module/production.py``'s own model gives each stand-in CIFAR-10 training image, computed
in process the way its server will (harness only; see ``stand_ins.put_first_image_of_class``).

    python probe_served_class.py SCRIPT CIFAR_ROOT   # prints one class index per training image of data_batch_1

The script's ``configure_response`` expects class 7 for the first training image: a fact about the real CIFAR-10
image and the real pretrained weights. With stand-ins, the harness puts first an image that the script's model,
built as the script builds it (seed 42, then the model), classifies as 7 in process, so the script's check still
compares what the server answers with what the model computes.
"""

from __future__ import annotations

import base64
import io
import runpy
import sys

import torch
import torchvision
import torchvision.transforms as T
from lightning.pytorch import seed_everything


def main() -> None:
    script, root = sys.argv[1:3]
    namespace = runpy.run_path(script, run_name="probe")  # defines the classes; cli_main runs only as __main__
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
    print(" ".join(map(str, classes)))


if __name__ == "__main__":
    main()
