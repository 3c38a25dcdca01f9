"""Shared table reading: JSON lines in a file named .json."""

from __future__ import annotations

import json

from flashtrain.tasks.data import read_table


def test_json_lines_in_a_json_file_are_read(tmp_path):
    path = tmp_path / "rows.json"
    path.write_text("\n".join(json.dumps({"text": t, "label": y}) for t, y in [("good", 1), ("bad", 0)]) + "\n")
    frame = read_table(str(path), "train_file", "json")
    assert frame["text"].tolist() == ["good", "bad"] and frame["label"].tolist() == [1, 0]
    records = tmp_path / "records.json"
    records.write_text(json.dumps([{"text": "ok", "label": 1}]))
    assert read_table(str(records), "train_file", "json")["text"].tolist() == ["ok"]
