"""A stand-in for the Hugging Face Hub on 127.0.0.1: the few endpoints huggingface_hub calls for ``create_repo``,
``upload_folder`` (validate-yaml of the card, preupload: every file "regular", then one commit of base64 contents)
and ``snapshot_download`` (the revision, its file tree, then HEAD/GET of each file under /resolve/). Files are kept
in memory; every request is recorded in ``requests``."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SHA = "0123456789abcdef0123456789abcdef01234567"


class HubStub:
    def __init__(self) -> None:
        self.repos: dict[str, dict[str, bytes]] = {}
        self.requests: list[str] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _json(self, value: Any) -> None:
                self._send(200, json.dumps(value).encode(), {"Content-Type": "application/json"})

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_POST(self) -> None:
                stub.requests.append(f"POST {self.path}")
                body = self._body()
                parts = self.path.split("?")[0].strip("/").split("/")
                if parts[:3] == ["api", "repos", "create"]:
                    request = json.loads(body)
                    repo = f"{request['organization']}/{request['name']}"
                    stub.repos.setdefault(repo, {})
                    return self._json({"url": f"http://{self.headers['Host']}/{repo}", "name": repo, "id": repo})
                if parts[:2] == ["api", "validate-yaml"]:  # the model card's metadata, checked before an upload
                    return self._json({"errors": [], "warnings": []})
                if parts[0] == "api" and parts[1] == "models" and parts[4] == "preupload":
                    files = json.loads(body)["files"]
                    modes = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]
                    return self._json({"files": modes})
                if parts[0] == "api" and parts[1] == "models" and parts[4] == "commit":
                    repo = f"{parts[2]}/{parts[3]}"
                    for line in body.decode().splitlines():
                        entry = json.loads(line)
                        if entry["key"] == "file":
                            value = entry["value"]
                            stub.repos[repo][value["path"]] = base64.b64decode(value["content"])
                    host = self.headers["Host"]
                    return self._json({"commitUrl": f"http://{host}/{repo}/commit/{SHA}", "commitOid": SHA})
                self._send(404)

            def do_GET(self) -> None:
                stub.requests.append(f"GET {self.path}")
                self._serve()

            def do_HEAD(self) -> None:
                stub.requests.append(f"HEAD {self.path}")
                self._serve()

            def _serve(self) -> None:
                parts = self.path.split("?")[0].strip("/").split("/")
                if parts[:2] == ["api", "models"] and len(parts) >= 4:
                    repo = f"{parts[2]}/{parts[3]}"
                    if repo not in stub.repos:
                        return self._send(404, b"{}", {"X-Error-Code": "RepoNotFound"})
                    if len(parts) >= 5 and parts[4] == "tree":  # the file list of a revision
                        files = sorted(stub.repos[repo].items())
                        tree = [
                            {"type": "file", "path": name, "size": len(data), "oid": hashlib.sha1(data).hexdigest()}
                            for name, data in files
                        ]
                        return self._json(tree)
                    siblings = [{"rfilename": name} for name in sorted(stub.repos[repo])]
                    return self._json({"id": repo, "modelId": repo, "sha": SHA, "siblings": siblings})
                if len(parts) >= 5 and parts[2] == "resolve":
                    repo, path = f"{parts[0]}/{parts[1]}", "/".join(parts[4:])
                    content = stub.repos.get(repo, {}).get(path)
                    if content is None:
                        return self._send(404, b"", {"X-Error-Code": "EntryNotFound"})
                    etag = hashlib.sha1(content).hexdigest()
                    return self._send(200, content, {"ETag": f'"{etag}"', "X-Repo-Commit": SHA})
                self._send(404)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> HubStub:
        self.thread.start()
        return self

    def __exit__(self, *args: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
