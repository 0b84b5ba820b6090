"""Lock hub checkpoints: the commit each one is read at and the sha256 and size of every file the zoo fetches,
written into the catalog (``fmreview zoo lock MODEL|--all``).

For each Hugging Face checkpoint, ``HfApi.model_info(repo, revision=..., files_metadata=True)`` gives the commit
the revision (or ``main``) points to now and each file's metadata: a file stored with Git LFS carries its sha256
(``lfs.sha256``, which is by definition the hash of its bytes); any other file is downloaded at that commit and
hashed here. The files are those the catalog entry lists, else what :func:`.download.choose_files` would fetch
(configs and one copy of the weights). :func:`.download.fetch` then asks for exactly that commit and refuses any
file whose sha256 or size differs, so ``zoo verify`` and ``zoo sweep`` run on the bytes that were locked.

A run is all or nothing: every repository is resolved before any file is written, and a failure names the
repository. The catalog files are changed only in the locked checkpoints' ``revision`` and ``files`` (each file
must be in canonical form already, so that the rewrite by the catalog's canonical writer changes nothing else),
each written atomically; should a write fail, the files written before it are put back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .download import DownloadError, _with_retries, choose_files, gated_message, hub_token, sha256_file

COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
TOKEN_HINT = "set HF_TOKEN (or pass --token)"


class LockError(Exception):
    """A checkpoint could not be locked; the message names the repository and says what to do."""


@dataclass
class Pin:
    """What the hub says about one catalog checkpoint at one commit."""

    model: str
    index: int            # position in the model's ``checkpoints`` list
    repo_id: str
    revision: str         # the commit sha
    files: list[dict]     # [{path, sha256, size}]
    previous_revision: str | None = None
    chosen: bool = False  # the catalog listed no files: the zoo chose them from the repository
    changed: bool = field(default=False)  # the catalog file differs after locking

    def row(self) -> dict:
        return {"model": self.model, "checkpoint": self.index, "repo_id": self.repo_id, "revision": self.revision,
                "previous_revision": self.previous_revision, "files": len(self.files),
                "bytes": sum(f["size"] for f in self.files), "files_chosen_by_zoo": self.chosen,
                "changed": self.changed}


def hub_checkpoints(cat, model: str | None) -> list[tuple[str, int, object]]:
    """(model id, index, checkpoint) of every Hugging Face checkpoint of ``model`` (all models when None)."""
    if model is not None and model not in cat.raw.models:
        import difflib

        near = difflib.get_close_matches(model, list(cat.raw.models), n=1)
        raise LockError(f"no model {model!r} in the catalog" + (f"; did you mean {near[0]!r}?" if near else ""))
    ids = [model] if model is not None else sorted(cat.raw.models)
    out = [(m, i, c) for m in ids for i, c in enumerate(cat.raw.models[m].record.checkpoints)
           if c.hub == "huggingface" and c.repo_id]
    if model is not None and not out:
        raise LockError(f"{model}: the catalog lists no Hugging Face checkpoint for it (only hub checkpoints can be "
                        "locked)")
    return out


def resolve(checkpoint, *, token: str | None = None, retries: int = 3, cache_dir=None) -> tuple[str, list[dict], bool]:
    """(commit sha, [{path, sha256, size}], files chosen by the zoo) for a hub checkpoint, as the hub has it now
    at the checkpoint's revision (or main)."""
    import os

    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    from huggingface_hub import constants

    repo, rev = checkpoint.repo_id, checkpoint.revision
    if constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        raise DownloadError(f"{repo}: HF_HUB_OFFLINE is set, and locking asks the hub which commit and bytes it "
                            "serves; unset it to lock")
    endpoint = os.environ.get("HF_ENDPOINT") or None
    token = hub_token(token)
    failed = lambda e: f"{repo}: the hub did not answer after {retries} attempts ({e})"  # noqa: E731
    info = _with_retries(lambda: HfApi(endpoint=endpoint, token=token).model_info(repo, revision=rev,
                                                                                 files_metadata=True),
                         repo, rev, retries, failed, has_token=bool(token), hint=TOKEN_HINT)
    if info.gated and not token:  # the metadata is public, the files are not: say so before any download
        raise DownloadError(gated_message(repo, False, TOKEN_HINT))
    commit = info.sha
    if not commit or not COMMIT_RE.match(commit):
        raise DownloadError(f"{repo}: the hub gave no commit sha for revision {rev or 'main'!r}")
    if rev and COMMIT_RE.match(rev) and rev != commit:
        raise DownloadError(f"{repo}: asked for commit {rev}, the hub answered {commit}")
    siblings = {s.rfilename: s for s in (info.siblings or [])}
    listed = [f.path for f in checkpoint.files]
    names = listed or choose_files(sorted(siblings), checkpoint.format)
    missing = [n for n in names if n not in siblings]
    if missing:
        raise DownloadError(f"{repo}@{commit}: no file {', '.join(map(repr, missing))} (the catalog lists it; the "
                            f"repository holds {', '.join(sorted(siblings)[:20]) or 'nothing'})")
    files = []
    for name in names:
        s = siblings[name]
        if s.lfs is not None:
            sha, size = s.lfs.sha256, s.lfs.size
        else:  # a plain git blob: the hub gives its git oid (sha1), so the bytes are hashed here
            def download(name=name):
                try:
                    return hf_hub_download(repo, name, revision=commit, token=token, endpoint=endpoint,
                                           cache_dir=cache_dir)
                except EntryNotFoundError:
                    raise DownloadError(f"{repo}@{commit}: no file {name!r}") from None

            path = Path(_with_retries(download, repo, commit, retries,
                                      lambda e: f"{repo}/{name}: download failed after {retries} attempts ({e})",
                                      has_token=bool(token), hint=TOKEN_HINT))
            sha, size = sha256_file(path), path.stat().st_size
        files.append({"path": name, "sha256": sha, "size": int(size)})
    return commit, files, not listed


def _conflicts(checkpoint, files: list[dict], repo: str, commit: str) -> None:
    """A sha256 the catalog already pins is a claim about the bytes: a different one on the hub is an error."""
    had = {f.path: f for f in checkpoint.files}
    for f in files:
        old = had.get(f["path"])
        if old is not None and old.sha256 and old.sha256 != f["sha256"]:
            raise LockError(f"{repo}@{commit}: {f['path']} has sha256 {f['sha256']}, the catalog pins "
                            f"{old.sha256}; the repository changed since it was pinned. If the new file is the "
                            "right one, delete its sha256 from the entry and lock again")
        if old is not None and old.size is not None and old.size != f["size"]:
            raise LockError(f"{repo}@{commit}: {f['path']} has {f['size']} bytes, the catalog pins {old.size}")


def plan(cat, model: str | None = None, *, token: str | None = None, retries: int = 3, cache_dir=None,
         log=None) -> list[Pin]:
    """Resolve every hub checkpoint of ``model`` (all when None) without writing anything."""
    log = log or (lambda s: None)
    pins = []
    for m, i, ck in hub_checkpoints(cat, model):
        log(f"resolving {ck.repo_id}@{ck.revision or 'main'} ({m})")
        try:
            commit, files, chosen = resolve(ck, token=token, retries=retries, cache_dir=cache_dir)
        except DownloadError as e:
            raise LockError(f"{m}: {e}; nothing was written") from None
        try:
            _conflicts(ck, files, ck.repo_id, commit)
        except LockError as e:
            raise LockError(f"{m}: {e}; nothing was written") from None
        pins.append(Pin(m, i, ck.repo_id, commit, files, ck.revision, chosen))
    return pins


def write(cat, pins: list[Pin], dry_run: bool = False) -> list[Path]:
    """Write the pins into the catalog's model files; returns the files that change. All files are prepared
    (read, checked, re-validated) before the first is written; ``dry_run`` stops there."""
    from fmreview.catalog import schema, yamlio
    from fmreview.catalog.fmt import canonical_text

    root = Path(cat.raw.root)
    by_file: dict[Path, list[Pin]] = {}
    for p in pins:
        by_file.setdefault(root / cat.raw.models[p.model].file, []).append(p)
    prepared: list[tuple[Path, str, str]] = []  # (path, old text, new text)
    for path, group in sorted(by_file.items()):
        old = path.read_text(encoding="utf-8")  # read now: another writer may have changed it since the load
        if canonical_text(path, "models") != old:
            raise LockError(f"{yamlio.rel(path, root)} is not in canonical form, so rewriting it would change more "
                            "than the checkpoint; run `fmreview catalog fmt` first (nothing was written)")
        data, problems = yamlio.read(path, root)
        if problems:
            raise LockError(f"{problems[0]} (nothing was written)")
        cks = data.get("checkpoints") or []
        for p in group:
            if p.index >= len(cks) or cks[p.index].get("repo_id") != p.repo_id:
                raise LockError(f"{yamlio.rel(path, root)}: checkpoint {p.index} is no longer {p.repo_id} (the file "
                                "changed while locking); run again (nothing was written)")
            ck = cks[p.index]
            ck["revision"] = p.revision
            ck["files"] = [dict(f) for f in p.files]
        try:
            schema.Model.model_validate(data)
        except Exception as e:  # pragma: no cover - the pins are schema-valid by construction
            raise LockError(f"{yamlio.rel(path, root)}: the locked entry does not validate ({e})") from None
        new = yamlio.dumps(yamlio.canonical_order(data, schema.Model))
        for p in group:
            p.changed = new != old
        if new != old:
            prepared.append((path, old, new))
    if dry_run:
        return [p for p, _, _ in prepared]
    done: list[tuple[Path, str]] = []
    try:
        for path, old, new in prepared:
            yamlio.write_atomic(path, new)
            done.append((path, old))
    except BaseException:
        for path, old in done:  # all or nothing: put back what this run wrote
            yamlio.write_atomic(path, old)
        raise
    return [p for p, _, _ in prepared]


def lock(cat, model: str | None = None, *, token: str | None = None, retries: int = 3, cache_dir=None,
         dry_run: bool = False, log=None) -> tuple[list[Pin], list[Path]]:
    """Resolve and (unless ``dry_run``) write: (pins, files changed)."""
    pins = plan(cat, model, token=token, retries=retries, cache_dir=cache_dir, log=log)
    return pins, write(cat, pins, dry_run=dry_run)
