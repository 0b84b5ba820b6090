"""A loopback HTTP server that speaks the parts of the Hugging Face hub protocol hf_hub_download uses:
HEAD/GET /{repo}/resolve/{revision}/{file} with X-Repo-Commit, ETag and Content-Length, Range requests, the
repository listing GET /api/models/{repo}/tree/{revision} (what list_repo_files reads), and the hub's error codes (401 GatedRepo, 404 RepoNotFound / EntryNotFound). Test knobs: gated repos, a connection that
drops mid-file, a served file that differs from what the catalog pins, and a log of requests."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Hub:
    def __init__(self):
        self.repos: dict[str, dict[str, bytes]] = {}
        self.commits: dict[str, str] = {}
        self.gated: set[str] = set()
        self.drop_next: int = 0  # GETs to cut off after half the bytes
        self.requests: list[tuple[str, str]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def add(self, repo: str, files: dict[str, bytes]) -> str:
        self.repos[repo] = dict(files)
        self.commits[repo] = hashlib.sha1(repo.encode()).hexdigest()
        return self.commits[repo]

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

            def _route(self, head: bool):
                hub.requests.append((self.command, self.path))
                parts = self.path.split("?")[0].strip("/").split("/")
                if parts[:2] == ["api", "models"] and "tree" in parts:
                    return self._tree(parts)
                if "resolve" not in parts:
                    return self._error(404, "EntryNotFound")
                i = parts.index("resolve")
                repo, rev, name = "/".join(parts[:i]), parts[i + 1], "/".join(parts[i + 2:])
                if repo not in hub.repos:
                    return self._error(404, "RepoNotFound")
                if repo in hub.gated and "authorization" not in {k.lower() for k in self.headers.keys()}:
                    return self._error(401, "GatedRepo")
                if rev not in ("main", hub.commits[repo]):
                    return self._error(404, "RevisionNotFound")
                if name not in hub.repos[repo]:
                    return self._error(404, "EntryNotFound")
                data = hub.repos[repo][name]
                start = 0
                rng = self.headers.get("Range")
                if rng and rng.startswith("bytes=") and not head:
                    start = int(rng[6:].split("-")[0] or 0)
                body = data[start:]
                self.send_response(206 if start else 200)
                self.send_header("X-Repo-Commit", hub.commits[repo])
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

            def _tree(self, parts):
                i = parts.index("tree")
                repo, rev = "/".join(parts[2:i]), parts[i + 1]
                if repo not in hub.repos:
                    return self._error(404, "RepoNotFound")
                if repo in hub.gated and "authorization" not in {k.lower() for k in self.headers.keys()}:
                    return self._error(401, "GatedRepo")
                if rev not in ("main", hub.commits[repo]):
                    return self._error(404, "RevisionNotFound")
                body = json.dumps([{"type": "file", "path": name, "size": len(data),
                                    "oid": hashlib.sha1(data).hexdigest()}
                                   for name, data in sorted(hub.repos[repo].items())]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_HEAD(self):
                self._route(True)

            def do_GET(self):
                self._route(False)

        return Handler
