"""Write the bundled image sample data: scikit-learn's 1,797 handwritten digits as 8x8 grayscale PNGs.

    python scripts/make_image_sample_data.py

Output: packages/tasks/src/flashtrain/tasks/image/sample_data/digits/{train,val}/<digit>/<index>.png, a
stratified 80/20 split with a fixed seed. The digits are the UCI ML hand-written digits data set (optical
recognition of handwritten digits, E. Alpaydin and C. Kaynak, 1998; CC BY 4.0), as shipped by scikit-learn.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

ROOT = os.path.join(
    os.path.dirname(__file__), "..", "packages", "tasks", "src", "flashtrain", "tasks", "image", "sample_data", "digits"
)


def main() -> None:
    digits = load_digits()
    pixels = (digits.images * (255.0 / 16.0)).round().astype(np.uint8)
    indices = np.arange(len(pixels))
    train, val = train_test_split(indices, test_size=0.2, stratify=digits.target, random_state=0)
    shutil.rmtree(ROOT, ignore_errors=True)
    for split, chosen in (("train", train), ("val", val)):
        for index in sorted(chosen):
            folder = os.path.join(ROOT, split, str(digits.target[index]))
            os.makedirs(folder, exist_ok=True)
            Image.fromarray(pixels[index], mode="L").save(os.path.join(folder, f"{index:04d}.png"), optimize=True)
    with open(os.path.join(ROOT, "LICENSE.txt"), "w") as handle:
        handle.write(
            "Handwritten digits: 8x8 grayscale images of the digits 0-9, from the UCI ML hand-written digits data set\n"
            "(Optical Recognition of Handwritten Digits, E. Alpaydin and C. Kaynak, 1998), as shipped with\n"
            "scikit-learn (sklearn.datasets.load_digits). Licence: CC BY 4.0.\n"
            "Written by scripts/make_image_sample_data.py: a stratified 80/20 train/val split, seed 0.\n"
        )
    print(f"wrote {len(train)} train and {len(val)} val images under {os.path.normpath(ROOT)}")


if __name__ == "__main__":
    main()
