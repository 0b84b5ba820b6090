"""A loopback HTTP server that speaks the parts of the Hugging Face hub protocol the zoo uses:
HEAD/GET /{repo}/resolve/{revision}/{file} with X-Repo-Commit, ETag and Content-Length, Range requests; the
repository listing GET /api/models/{repo}/tree/{revision} (what list_repo_files reads); the model info
GET /api/models/{repo}[/revision/{revision}] (what HfApi.model_info reads: ``sha``, ``gated`` and ``siblings``,
with ``size``, ``blobId`` and, for LFS files, ``lfs: {sha256, size, pointerSize}`` when asked with blobs=True);
and the hub's error codes (401 GatedRepo, 404 RepoNotFound / RevisionNotFound / EntryNotFound).

Every ``add`` of a repository is a new commit that ``main`` then points to; earlier commits stay servable by
their sha, so a pinned revision keeps its bytes after the repository moves on.

Test knobs: gated repos (files need an Authorization header; the model info answers, with ``gated: manual``,
as the hub's does), a connection that drops mid-file, LFS metadata that differs from the bytes served
(``lfs_sha256_override``), and a log of requests (method, path with query)."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

# stored with Git LFS on the hub (its default .gitattributes); everything else is a plain git blob
LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".onnx", ".msgpack", ".npz", ".model")


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Hub:
    def __init__(self):
        self.repos: dict[str, dict[str, bytes]] = {}       # the files at main
        self.commits: dict[str, str] = {}                  # the commit main points to
        self.history: dict[str, dict[str, dict[str, bytes]]] = {}  # repo -> commit -> files
        self.gated: set[str] = set()
        self.drop_next: int = 0  # GETs to cut off after half the bytes
        self.lfs_sha256_override: dict[tuple[str, str], str] = {}  # (repo, file) -> the sha256 the metadata claims
        self.requests: list[tuple[str, str]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def add(self, repo: str, files: dict[str, bytes]) -> str:
        """A new commit of ``repo`` holding ``files``; main moves to it. Returns its sha."""
        h = hashlib.sha1(repo.encode())
        for name, data in sorted(files.items()):
            h.update(b"\0" + name.encode() + b"\0" + hashlib.sha256(data).digest())
        commit = h.hexdigest()
        self.repos[repo] = dict(files)
        self.commits[repo] = commit
        self.history.setdefault(repo, {})[commit] = dict(files)
        return commit

    def files_at(self, repo: str, rev: str) -> tuple[str, dict[str, bytes]] | None:
        if rev == "main":
            return self.commits[repo], self.repos[repo]
        if rev in self.history.get(repo, {}):
            return rev, self.history[repo][rev]
        return None

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _error(self, code, error_code):
                self.send_response(code)
                self.send_header("X-Error-Code", error_code)
                self.send_header("X-Error-Message", error_code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _authorized(self) -> bool:
                return "authorization" in {k.lower() for k in self.headers.keys()}

            def _json(self, doc) -> None:
                body = json.dumps(doc).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _route(self, head: bool):
                hub.requests.append((self.command, self.path))
                url = urlsplit(self.path)
                parts = [unquote(p) for p in url.path.strip("/").split("/")]
                if parts[:2] == ["api", "models"] and "tree" in parts:
                    return self._tree(parts)
                if parts[:2] == ["api", "models"]:
                    return self._info(parts, parse_qs(url.query))
                if "resolve" not in parts:
                    return self._error(404, "EntryNotFound")
                i = parts.index("resolve")
                repo, rev, name = "/".join(parts[:i]), parts[i + 1], "/".join(parts[i + 2:])
                if repo not in hub.repos:
                    return self._error(404, "RepoNotFound")
                if repo in hub.gated and not self._authorized():
                    return self._error(401, "GatedRepo")
                at = hub.files_at(repo, rev)
                if at is None:
                    return self._error(404, "RevisionNotFound")
                commit, files = at
                if name not in files:
                    return self._error(404, "EntryNotFound")
                data = files[name]
                start = 0
                rng = self.headers.get("Range")
                if rng and rng.startswith("bytes=") and not head:
                    start = int(rng[6:].split("-")[0] or 0)
                body = data[start:]
                self.send_response(206 if start else 200)
                self.send_header("X-Repo-Commit", commit)
                self.send_header("ETag", '"' + hashlib.sha256(data).hexdigest() + '"')
                self.send_header("Content-Length", str(len(body)))
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.end_headers()
                if head:
                    return
                if hub.drop_next > 0:
                    hub.drop_next -= 1
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def _info(self, parts, query):
                # /api/models/{owner}/{name} or /api/models/{owner}/{name}/revision/{rev}
                rest = parts[2:]
                if len(rest) >= 2 and rest[-2] == "revision":
                    repo, rev = "/".join(rest[:-2]), rest[-1]
                else:
                    repo, rev = "/".join(rest), "main"
                if repo not in hub.repos:
                    return self._error(404, "RepoNotFound")
                at = hub.files_at(repo, rev)
                if at is None:
                    return self._error(404, "RevisionNotFound")
                commit, files = at
                blobs = query.get("blobs", ["false"])[0].lower() == "true"
                siblings = []
                for name, data in sorted(files.items()):
                    s = {"rfilename": name}
                    if blobs:
                        s.update(size=len(data), blobId=git_blob_id(data))
                        if name.endswith(LFS_SUFFIXES):
                            sha = hub.lfs_sha256_override.get((repo, name), hashlib.sha256(data).hexdigest())
                            s["lfs"] = {"sha256": sha, "size": len(data), "pointerSize": 134}
                    siblings.append(s)
                self._json({"_id": commit[:24], "id": repo, "modelId": repo, "author": repo.split("/")[0],
                            "sha": commit, "private": False, "disabled": False,
                            "gated": "manual" if repo in hub.gated else False, "tags": [], "siblings": siblings})

            def _tree(self, parts):
                i = parts.index("tree")
                repo, rev = "/".join(parts[2:i]), parts[i + 1]
                if repo not in hub.repos:
                    return self._error(404, "RepoNotFound")
                if repo in hub.gated and not self._authorized():
                    return self._error(401, "GatedRepo")
                at = hub.files_at(repo, rev)
                if at is None:
                    return self._error(404, "RevisionNotFound")
                self._json([{"type": "file", "path": name, "size": len(data), "oid": git_blob_id(data)}
                            for name, data in sorted(at[1].items())])

            def do_HEAD(self):
                self._route(True)

            def do_GET(self):
                self._route(False)

        return Handler
