"""Image preprocessing and augmentation: separate training and evaluation transforms.

Evaluation (validation, test, predict) is deterministic: resize to ``image_size`` (an int, or ``(H, W)``), scale
to 0-1 and normalise with ``mean``/``std``, by default those of the backbone's pretrained config. Training adds
an augmentation before that (torchvision ``transforms.v2``): by default a mild random resized crop (80-100% of the
area) and no flip, an augmentation that cannot change what the image shows (issue 27: a mirrored digit, letter or
arrow is another class, and a crop down to 25% cuts away most of a small centred object; on such data the old
default, crop to 25% + flip, lost to a plain loop with no augmentation). Ask for a flip where a mirror image is the
same class (photos of objects): ``transform_kwargs={"hflip": 0.5}`` (``--hflip 0.5``). ``"randaugment"``,
``"trivialaugment"``, ``"autoaugment"``, ``"augmix"`` add that policy on top; ``"none"`` trains on the evaluation
transform. ``transform_kwargs`` tunes the default one (``scale``, ``ratio``, ``hflip``, ``vflip``,
``color_jitter``, ``random_erasing``). Batch-level mixing (mixup / cutmix) lives in the
model, which sees whole batches (``ImageClassifier(mixup_alpha=..., cutmix_alpha=...)``).

A checkpoint stores exactly the evaluation preprocessing used: the config for the built-in transform, or, for
a user's ``val_transform`` made of deterministic torchvision steps (Resize, CenterCrop, Normalize, ...), those
steps, rebuilt when the checkpoint predicts. Any other custom transform is recorded as custom, and predicting
from the checkpoint then asks for it instead of guessing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
AUGMENTATIONS = ("default", "none", "randaugment", "trivialaugment", "autoaugment", "augmix")
TRANSFORM_KWARGS = {
    # random resized crop: area fraction kept (timm uses (0.08, 1) for ImageNet; (0.25, 1) lost to no augmentation
    # on digits, glyphs and photo patches, (0.6, 1) on digits; (0.8, 1) was level or ahead: benchmarks/recipes/)
    "scale": (0.8, 1.0),
    "ratio": (3 / 4, 4 / 3),
    "hflip": 0.0,  # a mirror image can be another class (b/d, left/right arrows): only when asked
    "vflip": 0.0,
    "color_jitter": 0.0,
    "random_erasing": 0.0,
}


# Larger sides are refused before anything is allocated: one 4096x4096 float image is 200 MB, a batch of 64 is 13 GB.
MAX_IMAGE_SIDE = 4096


def as_size(image_size: Any, argument: str = "image_size") -> tuple[int, int]:
    """``32`` -> (32, 32); ``(H, W)`` stays; anything else is an error naming the forms."""
    sides = image_size if isinstance(image_size, (tuple, list)) else [image_size]
    if any(isinstance(v, int) and v > MAX_IMAGE_SIDE for v in sides):
        raise ValueError(
            f"{argument}={image_size!r} is too large: at most {MAX_IMAGE_SIDE} pixels a side (one 4096x4096 image is "
            "200 MB as floats; a batch of them would not fit in memory)."
        )
    if isinstance(image_size, int) and not isinstance(image_size, bool) and image_size > 0:
        return image_size, image_size
    if (
        isinstance(image_size, (tuple, list))
        and len(image_size) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in image_size)
    ):
        return int(image_size[0]), int(image_size[1])
    raise ValueError(f"{argument} must be a positive int or (height, width) of positive ints, got {image_size!r}.")


def as_channel_values(value: Any, argument: str) -> tuple[float, ...]:
    """``mean``/``std`` per channel: a sequence of 1 or 3 numbers (``std`` all > 0); else an error naming the form."""
    if hasattr(value, "tolist") and not isinstance(value, (int, float)):
        value = value.tolist()  # a numpy array or tensor of per-channel values
    values = tuple(value) if isinstance(value, (tuple, list)) else None
    if (
        values is None
        or len(values) not in (1, 3)
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        or (argument == "std" and any(v <= 0 for v in values))
    ):
        allowed = "positive numbers" if argument == "std" else "numbers"
        raise ValueError(
            f"{argument} must be one value per channel, a list of 3 {allowed} (or 1 for grayscale), got {value!r}; "
            f"e.g. {argument}={list(IMAGENET_STD if argument == 'std' else IMAGENET_MEAN)}."
        )
    return tuple(float(v) for v in values)


@dataclass
class ImageConfig:
    """Evaluation preprocessing: input size (int or (H, W)) and per-channel mean/std; or custom steps."""

    image_size: int | tuple[int, int] = 224
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    steps: list[dict[str, Any]] | None = None  # a user's deterministic torchvision steps, as data
    custom: str | None = None  # repr of a user's transform that cannot be stored

    @property
    def size(self) -> tuple[int, int]:
        return as_size(self.image_size)

    def as_dict(self) -> dict[str, Any]:
        size = self.image_size if isinstance(self.image_size, int) else list(self.image_size)
        values: dict[str, Any] = {"image_size": size, "mean": list(self.mean), "std": list(self.std)}
        if self.steps is not None:
            values["steps"] = self.steps
        if self.custom is not None:
            values["custom"] = self.custom
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ImageConfig:
        size = values.get("image_size", 224)
        return cls(
            size if isinstance(size, int) else tuple(size),
            tuple(values.get("mean", IMAGENET_MEAN)),
            tuple(values.get("std", IMAGENET_STD)),
            values.get("steps"),
            values.get("custom"),
        )


class ToFloatNormalized:
    """uint8 (or float) images -> float32 scaled to 0-1 and normalised: torchvision's ``ToDtype(float32,
    scale=True)`` then ``Normalize``, on one image (C, H, W) or a batch (N, C, H, W) alike, with the same numbers
    (element-wise operations, so a batch gives each image's result bit for bit; the tests compare with v2's).

    From uint8, the float tensor is made here and normalised in place (a 224 px image's second 600 KB float copy
    costs more in page faults than in arithmetic); a float input (a user's tensors) is never changed. A batch made
    in a DataLoader worker is made in shared memory, as torch's default collate function does: it crosses to the
    main process without being copied there."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        from torchvision.transforms import v2

        self.to_float = v2.ToDtype(torch.float32, scale=True)
        self.normalize = v2.Normalize(list(mean), list(std))
        self.normalize_in_place = v2.Normalize(list(mean), list(std), inplace=True)

    def __call__(self, images: Any) -> torch.Tensor:
        if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8:
            return self.normalize(self.to_float(images))
        floats = torch.empty(images.shape, dtype=torch.float32, device=images.device)
        if images.ndim == 4 and images.is_cpu and torch.utils.data.get_worker_info() is not None:
            floats.share_memory_()  # before it is written: the copy into shared memory is of untouched pages
        floats.copy_(images).mul_(1.0 / 255)  # ToDtype(float32, scale=True) on uint8: .to(float32).mul_(1 / 255)
        return self.normalize_in_place(floats)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mean={self.normalize.mean}, std={self.normalize.std})"


class DirectSteps:
    """torchvision v2 steps applied to one image through their public ``make_params`` and ``transform`` methods,
    the calls ``Transform.forward`` makes, without the flattening of nested samples and the per-input type checks
    that ``forward`` adds around them (about 100 us per call chain, a fifth of a 224 px image's per-image work).
    The random draws (a flip's ``torch.rand(1) >= p``, then ``make_params``) and the kernels are torchvision's, in
    ``forward``'s order, so the pixels are ``v2.Compose``'s for the same seed (tests compare them).

    Only the steps in :data:`DIRECT_STEPS` are taken here (``forward`` of a policy such as RandAugment is its own).
    """

    def __init__(self, steps: Sequence[Any]) -> None:
        self.steps = list(steps)

    def __call__(self, image: Any) -> Any:
        from torchvision.transforms import v2

        if not isinstance(image, torch.Tensor) or image.ndim < 3:  # PIL, NumPy, (H, W): ToImage's conversion
            image = v2.functional.to_image(image)
        for step in self.steps:
            if getattr(step, "p", None) is not None and torch.rand(1) >= step.p:  # a flip's coin, as forward tosses it
                continue
            image = step.transform(image, step.make_params([image]))
        return image

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.steps!r})"


def direct_steps() -> tuple[type, ...]:
    """The v2 transforms :class:`DirectSteps` applies itself (their ``forward`` is ``Transform``'s, or a random
    flip's coin toss in front of it)."""
    from torchvision.transforms import v2

    return (v2.Resize, v2.RandomResizedCrop, v2.RandomHorizontalFlip, v2.RandomVerticalFlip, v2.ColorJitter)


def _per_image(steps: list[Any]) -> Callable[[Any], Any]:
    """The per-image steps: the leading run of :func:`direct_steps` applied directly, the rest (a policy) by v2."""
    from torchvision.transforms import v2

    direct = 0
    while direct < len(steps) and type(steps[direct]) in direct_steps():
        direct += 1
    if direct == len(steps):
        return DirectSteps(steps)
    return v2.Compose([DirectSteps(steps[:direct]), *steps[direct:]])


class SplitTransform:
    """A transform in two parts: ``per_image`` (decoded-size work on uint8: resize, crop, flips, policies; its
    output has the same shape for every image) and ``finish`` (to float and normalise), which gives the same
    numbers on a whole batch at once. Called on one image it is ``finish(per_image(image))``.

    The image datasets' ``__getitems__`` use the split: each image through ``per_image``, one uint8 stack, one
    ``finish`` of the batch — instead of a float copy per image that the collate function then copies again."""

    def __init__(self, per_image: Callable[[Any], Any], finish: ToFloatNormalized) -> None:
        self.per_image = per_image
        self.finish = finish

    def __call__(self, image: Any) -> torch.Tensor:
        return self.finish(self.per_image(image))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.per_image!r}, {self.finish!r})"


def transform_parts(transform: Callable[[Any], Any]) -> tuple[Callable[[Any], Any], ToFloatNormalized | None]:
    """(per-image part, batch finish or None): how a dataset can apply ``transform`` to a batch."""
    if isinstance(transform, StageTransform):
        return transform.parts()
    if isinstance(transform, SplitTransform):
        return transform.per_image, transform.finish
    return transform, None


def build_eval_transform(config: ImageConfig) -> Callable[[Any], torch.Tensor]:
    """PIL image or uint8/float tensor (C, H, W) -> float tensor (3, H, W), resized and normalised."""
    from torchvision.transforms import v2

    if config.custom is not None:
        raise ValueError(
            f"This model was evaluated with a custom transform ({config.custom}) that a checkpoint cannot store. "
            "Pass the same transform to the data as predict_transform= (or val_transform=)."
        )
    if config.steps is not None:
        return v2.Compose([v2.ToImage(), *(_step_from_dict(step) for step in config.steps)])
    return SplitTransform(
        _per_image([v2.Resize(config.size, antialias=True)]), ToFloatNormalized(config.mean, config.std)
    )


def build_train_transform(
    config: ImageConfig, augmentation: str = "default", options: dict[str, Any] | None = None
) -> Callable[[Any], torch.Tensor]:
    """The named augmentation at the config's size, then scaling and normalisation as in evaluation."""
    from torchvision.transforms import v2

    settings = {**TRANSFORM_KWARGS, **(options or {})}
    if augmentation == "none":
        return build_eval_transform(config)
    steps: list[Any] = [  # on uint8 images (3, H, W), as the decoder gives them (DirectSteps converts others)
        v2.RandomResizedCrop(
            config.size, scale=tuple(settings["scale"]), ratio=tuple(settings["ratio"]), antialias=True
        ),
    ]
    if settings["hflip"]:
        steps.append(v2.RandomHorizontalFlip(settings["hflip"]))
    if settings["vflip"]:
        steps.append(v2.RandomVerticalFlip(settings["vflip"]))
    if settings["color_jitter"]:
        jitter = float(settings["color_jitter"])
        steps.append(v2.ColorJitter(jitter, jitter, jitter))
    policy = {
        "randaugment": v2.RandAugment,
        "trivialaugment": v2.TrivialAugmentWide,
        "autoaugment": v2.AutoAugment,
        "augmix": v2.AugMix,
    }.get(augmentation)
    if policy is not None:
        steps += [v2.ToDtype(torch.uint8, scale=True), policy()]  # the policies work on uint8 images
    finish = ToFloatNormalized(config.mean, config.std)
    if settings["random_erasing"]:  # after normalising, one random box per image: no batch-wide finish
        return v2.Compose([_per_image(steps), finish, v2.RandomErasing(p=float(settings["random_erasing"]))])
    return SplitTransform(_per_image(steps), finish)


def describe_augmentation(augmentation: Any, options: dict[str, Any] | None = None) -> str:
    """The training augmentation in words, for the run summary: ``"default (random resized crop 60-100% ...)"``."""
    if augmentation is None or callable(augmentation):
        return "custom train_transform"
    if augmentation == "none":
        return "none"
    settings = {**TRANSFORM_KWARGS, **(options or {})}
    low, high = settings["scale"]
    parts = [f"random resized crop {low:.0%}-{high:.0%} of the area"]
    parts.append(f"horizontal flip {settings['hflip']:g}" if settings["hflip"] else "no flip (--hflip 0.5 to add one)")
    if settings["vflip"]:
        parts.append(f"vertical flip {settings['vflip']:g}")
    if settings["color_jitter"]:
        parts.append(f"colour jitter {settings['color_jitter']:g}")
    if settings["random_erasing"]:
        parts.append(f"random erasing {settings['random_erasing']:g}")
    policy = "" if augmentation == "default" else f"{augmentation} + "
    return f"{policy}{', '.join(parts)}"


def check_augmentation(train_transform: Any, transform_kwargs: dict[str, Any] | None) -> None:
    if isinstance(train_transform, str) and train_transform not in AUGMENTATIONS:
        raise ValueError(
            f"Unknown train_transform {train_transform!r}. Allowed: {', '.join(AUGMENTATIONS)}, or a callable."
        )
    if train_transform is not None and not isinstance(train_transform, str) and not callable(train_transform):
        raise TypeError(f"train_transform must be a name or a callable, got {type(train_transform).__name__}.")
    unknown = sorted(set(transform_kwargs or {}) - set(TRANSFORM_KWARGS))
    if unknown:
        raise TypeError(f"transform_kwargs has unknown key(s) {unknown}; allowed: {sorted(TRANSFORM_KWARGS)}.")


# -- describing a user's deterministic transform as data (so a checkpoint can rebuild it) ----------------------
_STORABLE = {
    "Resize": ("size", "antialias", "max_size"),
    "CenterCrop": ("size",),
    "Normalize": ("mean", "std"),
    "Grayscale": ("num_output_channels",),
    "ToDtype": ("scale",),
    "ToImage": (),
    "ToPureTensor": (),
    "PILToTensor": (),
    "ToTensor": (),
}


def describe(transform: Any) -> list[dict[str, Any]] | None:
    """A torchvision (v2) ``Compose`` of deterministic steps as a list of {"name", ...arguments}, else None."""
    steps = getattr(transform, "transforms", None)
    if steps is None or not isinstance(steps, Sequence):
        return None
    described = []
    for step in steps:
        name = type(step).__name__
        module = type(step).__module__
        if name not in _STORABLE or not module.startswith("torchvision.transforms"):
            return None
        entry: dict[str, Any] = {"name": name}
        for attribute in _STORABLE[name]:
            value = getattr(step, attribute, None)
            if isinstance(value, tuple):
                value = list(value)
            entry[attribute] = value
        if name == "ToDtype":
            dtype = getattr(step, "dtype", None)
            if dtype not in (torch.float32, torch.float16, torch.float64):
                return None
            entry["dtype"] = str(dtype).replace("torch.", "")
        if name == "ToTensor":  # v1: scales to 0-1 as v2's ToDtype(float32, scale=True) does
            entry = {"name": "ToDtype", "dtype": "float32", "scale": True}
        if name == "PILToTensor":
            entry = {"name": "ToImage"}
        described.append(entry)
    return described


def _step_from_dict(step: dict[str, Any]) -> Any:
    from torchvision.transforms import v2

    arguments = {key: value for key, value in step.items() if key != "name"}
    if step["name"] == "ToDtype":
        return v2.ToDtype(getattr(torch, arguments.get("dtype", "float32")), scale=bool(arguments.get("scale")))
    if step["name"] == "Resize":
        return v2.Resize(
            arguments["size"], antialias=arguments.get("antialias", True), max_size=arguments.get("max_size")
        )
    return getattr(v2, step["name"])(**arguments)


def is_deterministic(transform: Callable, sample: Any) -> bool:
    """Whether ``transform`` gives the same output twice on ``sample`` (a random augmentation does not)."""
    generator_state = torch.get_rng_state()
    try:
        first, second = transform(sample), transform(sample)
    finally:
        torch.set_rng_state(generator_state)
    if isinstance(first, torch.Tensor) and isinstance(second, torch.Tensor):
        return first.shape == second.shape and bool(torch.equal(first, second))
    return True


@dataclass
class ImageTransforms:
    """The transforms of one data module: one for training, one for evaluation, rebuilt when the config changes.

    ``custom_train`` / ``custom_eval`` are the user's callables (None: built from the config)."""

    config: ImageConfig
    augmentation: str = "default"
    options: dict[str, Any] = field(default_factory=dict)
    custom_train: Callable | None = None
    custom_eval: dict[str, Callable | None] = field(default_factory=dict)  # per stage: val, test, predict

    def __post_init__(self) -> None:
        self.set_config(self.config)

    def set_config(self, config: ImageConfig) -> None:
        self.config = config
        self._eval = build_eval_transform(config) if config.custom is None else None
        self._train = self.custom_train or (
            build_train_transform(config, self.augmentation, self.options) if config.custom is None else None
        )

    def describe(self) -> str:
        """The training augmentation in words (the run summary prints it)."""
        return describe_augmentation(self.custom_train or self.augmentation, self.options)

    def eval_config(self) -> ImageConfig:
        """What a checkpoint must store to evaluate as this data does."""
        custom = self.custom_eval.get("val")
        if custom is None:
            return self.config
        steps = describe(custom)
        size = self.config.image_size
        if steps is not None:
            return ImageConfig(size, self.config.mean, self.config.std, steps=steps)
        return ImageConfig(size, self.config.mean, self.config.std, custom=repr(custom)[:200])

    def for_stage(self, stage: str) -> StageTransform:
        return StageTransform(self, stage)

    def transform(self, stage: str) -> Callable[[Any], torch.Tensor]:
        """The transform of ``stage`` (train, val, test, predict)."""
        if stage == "train":
            transform = self._train
        else:
            transform = self.custom_eval.get(stage) or self.custom_eval.get("val") or self._eval
        if transform is None:
            build_eval_transform(self.config)  # raises the "custom transform" error
        return transform  # type: ignore[return-value]

    def apply(self, stage: str, image: Any) -> torch.Tensor:
        return self.transform(stage)(image)


class StageTransform:
    """The transform a dataset of one stage calls; it follows the module's config when the model changes it."""

    def __init__(self, transforms: ImageTransforms, stage: str) -> None:
        self.transforms = transforms
        self.stage = stage

    def __call__(self, image: Any) -> torch.Tensor:
        return self.transforms.apply(self.stage, image)

    def parts(self) -> tuple[Callable[[Any], Any], ToFloatNormalized | None]:
        """(per-image part, batch finish or None) of the stage's current transform (see :class:`SplitTransform`)."""
        transform = self.transforms.transform(self.stage)
        return transform_parts(transform) if not isinstance(transform, StageTransform) else (transform, None)
