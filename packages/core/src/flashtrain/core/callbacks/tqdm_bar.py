"""``Tqdm``: tqdm whose numbers keep their width, so a bar's postfix does not jump as values change.

A module of its own because it subclasses tqdm: importing it imports tqdm, which only a progress bar needs.
"""

from __future__ import annotations

from tqdm.auto import tqdm

PAD_SIZE = 5  # characters a float or numeric string is padded to ("1.000", "0.100")


class Tqdm(tqdm):
    """The bar flashtrain's ``ProgressBar`` draws (Lightning's ``Tqdm``)."""

    @staticmethod
    def format_num(n: int | float | str) -> str:
        """tqdm's number format, with floats and numeric strings padded with zeros to ``PAD_SIZE`` characters."""
        text = n if isinstance(n, str) else tqdm.format_num(n)
        if not isinstance(n, (float, str)) or "e" in text:
            return text  # ints and scientific notation keep tqdm's form
        if "." not in text and len(text) < PAD_SIZE:
            try:
                float(text)
            except ValueError:
                return text  # not a number: shown as given
            text += "."
        return text + "0" * (PAD_SIZE - len(text))
