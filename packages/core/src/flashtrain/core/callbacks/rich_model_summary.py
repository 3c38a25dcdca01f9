"""``RichModelSummary``: the model summary drawn as a ``rich`` table (Lightning 2's callback).

This module imports ``rich``; ``flashtrain.core.callbacks`` imports it only when ``RichModelSummary`` is asked for
(or a ``RichProgressBar`` makes it the default summary).
"""

from __future__ import annotations

from typing import Any

from flashtrain.core.callbacks.model_summary import ModelSummary, summary_rows

try:
    from rich import get_console
    from rich.table import Table
except ImportError as error:  # pragma: no cover - rich ships with the dev requirements
    raise ModuleNotFoundError("`RichModelSummary` requires `rich` to be installed: `pip install rich`.") from error


class RichModelSummary(ModelSummary):
    """The layers of the module and its parameter totals as a ``rich`` table, when fit starts (rank zero only).
    The default summary when the progress bar is a ``RichProgressBar``.

    Args:
        max_depth: Depth of the layers listed (0: no summary).
        header_style / title_style / ...: ``rich`` style strings of the table's parts.
    """

    def __init__(self, max_depth: int = 1, **table_style: Any) -> None:
        super().__init__(max_depth)
        self.table_style = {"header_style": "bold magenta", **table_style}

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        if not trainer.is_global_zero or self.max_depth == 0:
            return
        rows, totals = summary_rows(pl_module, self.max_depth)
        table = Table(**self.table_style)
        for column in ("", "Name", "Type", "Params", "Mode"):
            table.add_column(column)
        for index, row in enumerate(rows):
            table.add_row(str(index), *row)
        console = get_console()
        console.print(table)
        console.print("\n".join(f"{value:<10} {label}" for label, value in totals))
