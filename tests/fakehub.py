"""A local fake of the Hugging Face Hub's HTTP API, on 127.0.0.1, for pull and remote-header tests.

It serves what huggingface_hub calls: model info with file sizes
(``/api/models/<id>[/revision/<rev>]?blobs=true``), HEAD and GET of
``/<id>/resolve/<rev>/<file>`` (small files answered directly, LFS files
redirected to ``/cdn/<sha256>`` with ``X-Linked-Etag`` / ``X-Linked-Size``, as
the real hub does), and HTTP Range requests. Every request is logged, so a
test can check which files and byte ranges were fetched, and a download can
be cut off half-way (``cut``) to test resuming.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

LFS_SUFFIXES = (".safetensors", ".bin", ".h5", ".msgpack", ".onnx", ".pt", ".ckpt", ".ot")


@dataclass
class Request:
    method: str
    path: str
    range: str | None
    status: int
    sent: int = 0


@dataclass
class Repo:
    commit: str
    files: dict[str, bytes]
    refs: dict[str, str] = field(default_factory=dict)


class FakeHub:
    def __init__(self):
        self.repos: dict[str, Repo] = {}
        self.blobs: dict[str, bytes] = {}
        self.log: list[Request] = []
        self.cut: dict[str, list] = {}  # sha256 -> [bytes to send before closing, how many 500s to answer after]
        self.server: ThreadingHTTPServer | None = None

    # -- content --
    def add(self, repo_id: str, files: dict[str, bytes], revision: str = "main") -> str:
        commit = hashlib.sha1(repo_id.encode() + b"".join(k.encode() + v for k, v in sorted(files.items()))).hexdigest()
        self.repos[repo_id] = Repo(commit, dict(files), {revision: commit, commit: commit})
        for data in files.values():
            self.blobs[hashlib.sha256(data).hexdigest()] = data
        return commit

    def add_folder(self, repo_id: str, folder: Path, extra: dict[str, bytes] | None = None) -> str:
        files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
        return self.add(repo_id, {**files, **(extra or {})})

    # -- server --
    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeHub:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_HEAD(self):
                hub.handle(self, head=True)

            def do_GET(self):
                hub.handle(self, head=False)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    # -- answers --
    def fetched(self, pattern: str) -> list[Request]:
        return [r for r in self.log if re.search(pattern, r.path)]

    def handle(self, h: BaseHTTPRequestHandler, head: bool) -> None:
        url = urlparse(h.path)
        path = unquote(url.path)
        request = Request(h.command, path, h.headers.get("Range"), 200)
        self.log.append(request)
        if path.startswith("/api/models/"):
            return self.api_model(h, request, path[len("/api/models/") :])
        if path.startswith("/cdn/"):
            return self.send_bytes(h, request, path[len("/cdn/") :], head)
        match = re.fullmatch(r"/(.+?)/resolve/([^/]+)/(.+)", path)
        if match:
            for repo_id in sorted(self.repos, key=len, reverse=True):
                if path.startswith(f"/{repo_id}/resolve/"):
                    rest = path[len(f"/{repo_id}/resolve/") :]
                    revision, _, filename = rest.partition("/")
                    return self.resolve(h, request, repo_id, revision, filename, head)
        return self.error(h, request, 404, "RepoNotFound", "Repository not found")

    def error(self, h, request: Request, status: int, code: str, message: str) -> None:
        request.status = status
        body = json.dumps({"error": message}).encode()
        h.send_response(status)
        h.send_header("X-Error-Code", code)
        h.send_header("X-Error-Message", message)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)

    def repo_at(self, h, request, repo_id: str, revision: str | None) -> Repo | None:
        repo = self.repos.get(repo_id)
        if repo is None:
            self.error(h, request, 404, "RepoNotFound", "Repository not found")
            return None
        if revision is not None and revision not in repo.refs:
            self.error(h, request, 404, "RevisionNotFound", f"Invalid rev id: {revision}")
            return None
        return repo

    def api_model(self, h, request, rest: str) -> None:
        repo_id, _, revision = rest.partition("/revision/")
        repo = self.repo_at(h, request, repo_id, revision or None)
        if repo is None:
            return
        siblings = []
        for name, data in sorted(repo.files.items()):
            sibling = {"rfilename": name, "size": len(data), "blobId": hashlib.sha1(data).hexdigest()}
            if name.endswith(LFS_SUFFIXES):
                sibling["lfs"] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "pointerSize": 134}
            siblings.append(sibling)
        body = json.dumps({"id": repo_id, "modelId": repo_id, "sha": repo.commit, "siblings": siblings}).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def resolve(self, h, request, repo_id: str, revision: str, filename: str, head: bool) -> None:
        repo = self.repo_at(h, request, repo_id, revision)
        if repo is None:
            return
        if filename not in repo.files:
            return self.error(h, request, 404, "EntryNotFound", f"{filename} does not exist")
        data = repo.files[filename]
        commit = repo.refs[revision]
        if filename.endswith(LFS_SUFFIXES):
            sha = hashlib.sha256(data).hexdigest()
            request.status = 302
            h.send_response(302)
            # another host name for the same server: like the real hub's CDN, not followed by HEAD
            h.send_header("Location", f"{self.url.replace('127.0.0.1', 'localhost')}/cdn/{sha}")
            h.send_header("X-Repo-Commit", commit)
            h.send_header("X-Linked-Etag", f'"{sha}"')
            h.send_header("X-Linked-Size", str(len(data)))
            h.send_header("ETag", f'"{hashlib.sha1(data).hexdigest()}"')
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        self.send_data(h, request, data, head, {"X-Repo-Commit": commit, "ETag": f'"{hashlib.sha1(data).hexdigest()}"'})

    def send_bytes(self, h, request, sha: str, head: bool) -> None:
        if sha not in self.blobs:
            return self.error(h, request, 404, "EntryNotFound", "no such blob")
        cut = self.cut.get(sha)
        if cut and not head and cut[0] is None and cut[1] > 0:
            cut[1] -= 1
            return self.error(h, request, 500, "Internal", "the CDN is having a bad day")
        self.send_data(h, request, self.blobs[sha], head, {}, cut_key=sha)

    def send_data(self, h, request, data: bytes, head: bool, headers: dict, cut_key: str | None = None) -> None:
        start, end = 0, len(data) - 1
        wanted = h.headers.get("Range")
        status = 200
        if wanted:
            match = re.fullmatch(r"bytes=(\d+)-(\d*)", wanted.strip())
            if match:
                start = int(match[1])
                end = min(int(match[2]), len(data) - 1) if match[2] else len(data) - 1
                status = 206
        body = data[start : end + 1]
        request.status = status
        h.send_response(status)
        for key, value in headers.items():
            h.send_header(key, value)
        h.send_header("Accept-Ranges", "bytes")
        h.send_header("Content-Length", str(len(body)))
        if status == 206:
            h.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        h.end_headers()
        if head:
            return
        cut = self.cut.get(cut_key) if cut_key else None
        if cut and cut[0] is not None:  # send part of the body, then drop the connection
            h.wfile.write(body[: cut[0]])
            h.wfile.flush()
            request.sent = cut[0]
            cut[0] = None
            h.close_connection = True
            h.connection.shutdown(2)
            return
        h.wfile.write(body)
        request.sent = len(body)
