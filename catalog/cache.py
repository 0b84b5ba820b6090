"""A parse cache for catalog YAML, so repeated commands skip PyYAML's pure-Python constructor. Files the fast
reader takes (yamlio.fast_read: most of them) are not cached: reading them is as quick as a hit.

Keyed by the BLAKE2 digest of each file's bytes (never by mtime), so an entry is used only for the exact
bytes it was parsed from. Stored as JSON (safe to read, unlike pickle) in the user's cache directory;
documents JSON cannot represent exactly (non-string keys, dates) are simply not cached. Set
FMREVIEW_NO_CACHE=1 to bypass it. Errors are never cached: a broken file is re-parsed for its message.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from . import yamlio

VERSION = 1


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "fmreview"


def _exact_in_json(x: Any) -> bool:
    if isinstance(x, dict):
        return all(isinstance(k, str) and _exact_in_json(v) for k, v in x.items())
    if isinstance(x, list):
        return all(_exact_in_json(v) for v in x)
    return x is None or isinstance(x, (str, bool, int, float))


class ParseCache:
    def __init__(self, root: Path):
        self.enabled = os.environ.get("FMREVIEW_NO_CACHE", "") in ("", "0")
        key = hashlib.blake2b(str(Path(root).resolve()).encode(), digest_size=8).hexdigest()
        self.path = _cache_dir() / f"catalog-{key}.json"
        self.entries: dict[str, list] = {}
        self.used: dict[str, list] = {}
        self.dirty = False
        if self.enabled:
            try:
                doc = json.loads(self.path.read_text(encoding="utf-8"))
                if doc.get("version") == VERSION:
                    self.entries = doc["entries"]
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                self.entries = {}

    def read(self, path: Path, root: Path):
        """Like :func:`yamlio.read`, served from the cache when the file's bytes are unchanged."""
        if not self.enabled:
            return yamlio.read(path, root)
        name = yamlio.rel(path, root)
        try:
            if path.stat().st_size > yamlio.MAX_BYTES:
                return yamlio.read(path, root)
            raw = path.read_bytes()
        except OSError:
            return yamlio.read(path, root)
        fast = yamlio.fast_read(raw)
        if fast is not None:  # as quick as a cache hit: not cached
            return fast, []
        digest = hashlib.blake2b(raw, digest_size=16).hexdigest()
        hit = self.entries.get(name)
        if hit and hit[0] == digest:
            self.used[name] = hit
            return hit[1], []
        data, problems = yamlio.read(path, root)
        if not problems and _exact_in_json(data):
            self.used[name] = [digest, data]
            self.dirty = True
        return data, problems

    def save(self) -> None:
        if not self.enabled or not (self.dirty or len(self.used) != len(self.entries)):
            return
        try:
            text = json.dumps({"version": VERSION, "entries": self.used}, separators=(",", ":"))
            yamlio.write_atomic(self.path, text)
        except OSError:  # a read-only home is no reason to fail a query
            pass
