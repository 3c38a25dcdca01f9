"""flashtrain.tasks: pre-wired task modules (image, text and tabular classification).

The task classes arrive with their own issues; this package already installs into the ``flashtrain``
namespace so that the three distributions are laid out as DESIGN.md describes.
"""

__all__: list[str] = []
