"""Training-loader throughput: ImageClassificationData vs torchvision's ImageFolder + DataLoader.

Same images (the bundled digits, or --folder), same transform (resize + normalise), batch size and workers;
each side iterates its training loader for a few epochs, alternated over rounds. Prints images/s and the
median ratio (target: at least 1.0x), also with flashtrain's decoded-image cache turned off.

    python benchmarks/image_data.py [--folder DIR] [--workers 2] [--image-size 32] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.data import DataLoader
from torchvision.datasets import ImageFolder

from flashtrain.tasks import ImageClassificationData
from flashtrain.tasks.image import sample_data_folders
from flashtrain.tasks.image.transforms import ImageConfig, build_transform


def images_per_second(loader: DataLoader, epochs: int) -> float:
    count = 0
    start = time.perf_counter()
    for _ in range(epochs):
        for images, _ in loader:
            count += len(images)
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", default=sample_data_folders()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)

    options = dict(
        train_folder=args.folder, image_size=args.image_size, batch_size=args.batch_size, num_workers=args.workers
    )
    ours = ImageClassificationData.from_folders(**options)
    uncached = ImageClassificationData.from_folders(**options, cache_bytes=0)
    transform = build_transform(ImageConfig(image_size=args.image_size))
    reference = DataLoader(
        ImageFolder(args.folder, transform=transform),
        batch_size=args.batch_size,
        shuffle=True,
        num_workers=args.workers,
        persistent_workers=args.workers > 0,
    )
    loaders = {"flashtrain": ours.train_dataloader(), "no cache": uncached.train_dataloader(), "ImageFolder": reference}
    for loader in loaders.values():
        images_per_second(loader, 1)  # warm-up: worker start, file cache
    rates: dict[str, list[float]] = {name: [] for name in loaders}
    for _ in range(args.rounds):
        for name, loader in loaders.items():
            rates[name].append(images_per_second(loader, args.epochs))

    def ratio(name: str) -> float:
        return statistics.median(a / b for a, b in zip(rates[name], rates["ImageFolder"]))

    print(
        f"{len(ours.datasets['train'])} images, {args.image_size} px, batch {args.batch_size}, "
        f"{args.workers} workers, {args.rounds} rounds of {args.epochs} epochs"
    )
    for name, values in rates.items():
        print(f"{name:<12} {statistics.median(values):9.0f} images/s")
    print(f"ratio flashtrain / ImageFolder: {ratio('flashtrain'):.3f}x   (target >= 1.0x)")
    print(f"ratio without the decoded-image cache (what a first epoch sees): {ratio('no cache'):.3f}x")


if __name__ == "__main__":
    main()
