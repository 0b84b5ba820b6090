"""Download checkpoints with huggingface_hub: pinned revision, the standard HF cache, offline mode
(HF_HUB_OFFLINE), tokens for gated repos, retries, and verification of every file whose sha256 (and size) the
catalog pins: a mismatch removes the file from the cache and fails. ``local-dir:PATH`` uses files the user
already has. ``fmreview zoo lock`` (:mod:`.lock`) writes the pins: the commit as ``revision`` and each file's
sha256 and size, so that every later fetch asks the hub for that commit and accepts only those bytes."""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path


class DownloadError(Exception):
    """A checkpoint could not be obtained; the message says what to do."""


@dataclass
class Fetched:
    path: Path            # directory holding the files
    revision: str | None  # commit the files came from
    sha256: dict[str, str]
    pinned: bool = True   # False: the catalog listed no files (or no sha256), the zoo chose them from the repo


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                return h.hexdigest()
            h.update(b)


def _discard(path: str) -> None:
    """Remove a cached file: the snapshot link and the blob it points to."""
    p = Path(path)
    target = p.resolve() if p.is_symlink() else None
    for q in (p, target):
        try:
            if q is not None:
                q.unlink()
        except FileNotFoundError:
            pass


def fetch(checkpoint, *, files: list[str] | None = None, token: str | None = None, cache_dir=None,
          retries: int = 3, local: str | None = None) -> Fetched:
    """Bring a catalog checkpoint's files into the HF cache (or take them from ``local-dir:PATH``)."""
    pinned = {f.path: f.sha256 for f in checkpoint.files if f.sha256}
    sizes = {f.path: f.size for f in checkpoint.files if f.size is not None}
    names = files or [f.path for f in checkpoint.files]
    if local:
        if not local.startswith("local-dir:"):
            raise DownloadError(f"unknown checkpoint location {local!r}; expected local-dir:PATH")
        root = Path(local[len("local-dir:"):]).expanduser()
        if not root.is_dir():
            raise DownloadError(f"{root}: no such directory")
        if not names:  # the catalog lists no files: take the folder as it is
            names = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
        sums = {}
        for name in names:
            p = root / name
            if not p.exists():
                raise DownloadError(f"{p}: the checkpoint file {name!r} is missing")
            sums[name] = _check(p, name, pinned.get(name), discard=False, size=sizes.get(name))
        return Fetched(root, None, sums, pinned=all(pinned.get(n) for n in names))
    if checkpoint.hub != "huggingface" or not checkpoint.repo_id:
        raise DownloadError(f"weights hosted on {checkpoint.hub} cannot be downloaded by the zoo; download them "
                            "yourself and pass --checkpoint local-dir:PATH")
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError

    repo, rev = checkpoint.repo_id, checkpoint.revision
    endpoint = os.environ.get("HF_ENDPOINT") or None
    token = hub_token(token)
    if not names:  # the catalog pins no files: list the repository and take one copy of the weights + configs
        names = _discover(repo, rev, checkpoint.format, token=token, endpoint=endpoint, retries=retries,
                          cache_dir=cache_dir)
    sums, folder, commit = {}, None, rev
    for name in names:
        def download(name=name):
            try:
                return hf_hub_download(repo, name, revision=rev, cache_dir=cache_dir, token=token, endpoint=endpoint)
            except LocalEntryNotFoundError:
                raise DownloadError(f"{repo}/{name} is not in the local cache and the hub cannot be reached "
                                    "(HF_HUB_OFFLINE is set or there is no network)") from None
            except EntryNotFoundError:
                raise DownloadError(f"{repo}@{rev or 'main'}: no file {name!r}") from None

        path = _with_retries(download, repo, rev, retries,
                             lambda e: f"{repo}/{name}: download failed after {retries} attempts ({e})",
                             has_token=bool(token))
        sums[name] = _check(Path(path), name, pinned.get(name), discard=True, size=sizes.get(name))
        folder = Path(path).parents[name.count("/")]  # the snapshot folder, named by its commit
        commit = folder.name if folder.parent.name == "snapshots" else commit
    return Fetched(folder, commit, sums, pinned=bool(names) and all(pinned.get(n) for n in names))


def hub_token(token: str | None = None) -> str | None:
    """The token to send: the one given, else HF_TOKEN, else the one ``huggingface-cli login`` stored."""
    if token:
        return token
    if os.environ.get("HF_TOKEN"):
        return os.environ["HF_TOKEN"]
    try:
        from huggingface_hub import get_token

        return get_token() or None
    except Exception:  # an unreadable token file is no token
        return None


# what the zoo needs from a repository when the catalog pins no files: configs, tokenizer and processor files at
# the top level, and one copy of the weights (safetensors before pickles; other frameworks never)
_CONFIG_SUFFIXES = (".json", ".txt", ".model", ".tiktoken", ".py")
_WEIGHT_PREFERENCE = ((".safetensors",), (".bin", ".pt", ".pth"))


def choose_files(paths: list[str], fmt: str | None = None) -> list[str]:
    """The files to fetch from a repository listing: top-level configs/tokenizers plus the preferred weights.

    ``.py`` files are taken only so that a user who opts in to remote code has them; they are never imported
    otherwise. Raises DownloadError when no weights in a loadable format are present."""
    top = [p for p in paths if "/" not in p]
    configs = [p for p in top if p.endswith(_CONFIG_SUFFIXES) and not p.startswith(".")]
    for suffixes in _WEIGHT_PREFERENCE:
        weights = [p for p in top if p.endswith(suffixes) and not p.startswith("training_args")]
        if weights:
            return sorted(set(configs) | set(weights))
    raise DownloadError("no weights in a loadable format (safetensors, or a PyTorch .bin/.pt/.pth) at the top of the "
                        f"repository; it holds: {', '.join(sorted(paths)[:20]) or 'nothing'}")


def _discover(repo: str, rev: str | None, fmt: str | None, *, token, endpoint, retries: int,
              cache_dir=None) -> list[str]:
    from huggingface_hub import HfApi, snapshot_download

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        try:  # offline: what an earlier run left in the cache
            root = Path(snapshot_download(repo, revision=rev, cache_dir=cache_dir, local_files_only=True))
        except Exception:
            raise DownloadError(f"{repo}: the catalog lists no files, HF_HUB_OFFLINE is set and nothing of it is in "
                                "the local cache") from None
        return choose_files([str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()], fmt)
    paths = _with_retries(lambda: HfApi(endpoint=endpoint, token=token).list_repo_files(repo, revision=rev),
                          repo, rev, retries,
                          lambda e: f"{repo}: the catalog lists no files and the repository cannot be listed ({e}); "
                                    "pin the files in the catalog entry or pass --checkpoint local-dir:PATH",
                          has_token=bool(token))
    return choose_files(list(paths), fmt)


LOGIN_HINT = "log in (huggingface-cli login) or set HF_TOKEN"


def gated_message(repo: str, has_token: bool, hint: str = LOGIN_HINT) -> str:
    """What to do about a gated repository: with no token, get one; with one, the account lacks access."""
    page = f"https://huggingface.co/{repo}"
    if has_token:
        return (f"{repo} is gated and the token given has no access to it: request access at {page} (the owners "
                "may have to approve it), then run again with a token of the account that was granted access")
    return f"{repo} is gated: request access at {page} and {hint}"


def _with_retries(call, repo: str, rev: str | None, retries: int, failed, *, has_token: bool = False,
                  hint: str = LOGIN_HINT):
    """``call()``, with the hub's final answers about the repository (gated, unknown, no such revision) and any
    DownloadError the call raises itself passed on at once, and anything else (transport errors: HfHubHTTPError,
    httpx protocol errors, OSError) retried with exponential back-off; after the last attempt,
    DownloadError(failed(error)). ``has_token``/``hint`` shape the message for a gated repository."""
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError

    for attempt in range(1, retries + 1):
        try:
            return call()
        except DownloadError:
            raise
        except GatedRepoError:
            raise DownloadError(gated_message(repo, has_token, hint)) from None
        except RepositoryNotFoundError:
            raise DownloadError(f"{repo}: no such repository on the hub (or it is private: set HF_TOKEN)") from None
        except RevisionNotFoundError:
            raise DownloadError(f"{repo}: revision {rev!r} not found") from None
        except Exception as e:
            if attempt == retries:
                raise DownloadError(failed(e)) from None
            time.sleep(0.2 * 2 ** attempt)
    raise DownloadError(f"{repo}: retries must be at least 1")


def _check(path: Path, name: str, expected: str | None, *, discard: bool, size: int | None = None) -> str:
    """The file's sha256, after refusing a file whose size or sha256 differs from the catalog's pins."""
    if size is not None and path.stat().st_size != size:
        got_size = path.stat().st_size
        if discard:
            _discard(str(path))
        raise DownloadError(f"{name}: {got_size} bytes where the catalog pins {size}"
                            + ("; the file was removed from the cache" if discard else ""))
    got = sha256_file(path)
    if expected and got != expected:
        if discard:
            _discard(str(path))
        raise DownloadError(f"{name}: sha256 {got} does not match the catalog's {expected}"
                            + ("; the file was removed from the cache" if discard else ""))
    return got
