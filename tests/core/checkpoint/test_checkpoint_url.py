"""load_from_checkpoint from an http(s) URL (Flash's published-weights idiom): downloaded once into the cache, read
from there afterwards (also with the server gone); a URL that cannot be fetched is a clear ConnectionError."""

from __future__ import annotations

import functools
import http.server
import threading

import pytest
import torch

from tests.core.helpers import RegressionModule, loader, quiet_trainer


@pytest.fixture
def served(tmp_path):
    """A folder served over HTTP on 127.0.0.1, and a list of the paths requested."""
    requested: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            requested.append(self.path)

    handler = functools.partial(Handler, directory=str(tmp_path / "site"))
    (tmp_path / "site").mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tmp_path / "site", f"http://127.0.0.1:{server.server_address[1]}", requested, server
    server.shutdown()


def test_a_checkpoint_url_is_downloaded_once_then_cached(served, tmp_path, monkeypatch):
    site, url, requested, server = served
    monkeypatch.setenv("FLASHTRAIN_CACHE", str(tmp_path / "cache"))
    model = RegressionModule(lr=0.02)
    trainer = quiet_trainer(max_epochs=1, limit_train_batches=2)
    trainer.fit(model, loader())
    trainer.save_checkpoint(str(site / "model.pt"))

    restored = RegressionModule.load_from_checkpoint(f"{url}/model.pt")
    x = torch.randn(3, 8)
    model.eval()
    assert restored.hparams.lr == 0.02 and torch.equal(restored(x), model(x))
    server.shutdown()  # offline now: the cached copy is used
    again = RegressionModule.load_from_checkpoint(f"{url}/model.pt")
    assert torch.equal(again(x), model(x))
    assert [path for path in requested if path.endswith("model.pt")] == ["/model.pt"]
    assert len(list((tmp_path / "cache" / "checkpoints").rglob("model.pt"))) == 1


def test_an_unreachable_checkpoint_url_is_a_clear_error(served, tmp_path, monkeypatch):
    _, url, _, _ = served
    monkeypatch.setenv("FLASHTRAIN_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ConnectionError, match=r"could not download the checkpoint http://127.*/missing.pt \(.*\)"):
        RegressionModule.load_from_checkpoint(f"{url}/missing.pt")
    assert not list((tmp_path / "cache").rglob("missing.pt"))
