"""Reading and writing catalog YAML: safe, fast (libyaml where present), strict about duplicate keys,
with line numbers for error messages, and a canonical written form so diffs stay small."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any, Iterable

import yaml

from .errors import Problem

try:  # the C parser is ~10x faster; the constructor (and our duplicate check) stays in Python
    _Base = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML without libyaml
    _Base = yaml.SafeLoader

try:  # a Rust reader that builds Python objects directly, ~6x faster than libyaml + PyYAML's constructor
    import yaml_rs as _yaml_rs
except ImportError:  # pragma: no cover - a platform without its wheel: every file goes through StrictLoader
    _yaml_rs = None

MAX_BYTES = 5 * 1024 * 1024  # a catalog entry is a few KB; anything this size is a mistake


class DuplicateKey(yaml.MarkedYAMLError):
    pass


class StrictLoader(_Base):
    """SafeLoader that refuses duplicate keys (PyYAML silently keeps the last one)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, yaml.Mark] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    continue  # complex keys: PyYAML reports what it cannot hash
                # compare the key's text and tag, not a constructed key: no second construction per key
                key = (key_node.tag, key_node.value)
                if key in seen:
                    raise DuplicateKey("while constructing a mapping", node.start_mark,
                                       f"duplicate key {key_node.value!r} (first at line {seen[key].line + 1})",
                                       key_node.start_mark)
                seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)

    # ---- a fast path for the plain documents a catalog holds (the generic constructor is most of load time)
    _resolved: dict = {}

    def resolve(self, kind, value, implicit):
        # a plain scalar's implicit tag depends only on its text: remember it (keys repeat in every file)
        if kind is yaml.ScalarNode and implicit[0]:
            tag = self._resolved.get(value)
            if tag is None:
                if len(self._resolved) > 100_000:
                    self._resolved.clear()
                tag = self._resolved[value] = super().resolve(kind, value, implicit)
            return tag
        return super().resolve(kind, value, implicit)

    def descend_resolver(self, current_node, current_index):
        pass  # no path resolvers are registered on this loader

    def ascend_resolver(self):
        pass

    def construct_document(self, node):
        try:
            data = _Fast(self).build(node)
        except _Generic:  # merge keys, complex keys, recursive aliases: PyYAML's constructor handles them
            return super().construct_document(node)
        self.constructed_objects, self.recursive_objects = {}, {}
        return data


class _Generic(Exception):
    pass


_STR, _SEQ, _MAP = "tag:yaml.org,2002:str", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"


class _Fast:
    """Builds str/list/dict trees directly from nodes, with the duplicate-key check; any other scalar tag goes
    through the loader's own constructor, so the result is what the generic path would give."""

    def __init__(self, loader):
        self.loader, self.memo = loader, {}

    def build(self, node):
        tag = node.tag
        if tag == _STR:
            return node.value
        got = self.memo.get(id(node))
        if got is not None:
            if got is _Generic:
                raise _Generic
            return got[0]
        if tag == _SEQ:
            self.memo[id(node)] = _Generic  # an alias to an ancestor
            out = [self.build(c) for c in node.value]
        elif tag == _MAP:
            self.memo[id(node)] = _Generic
            out, seen = {}, {}
            for k, v in node.value:
                if k.tag != _STR and not (isinstance(k, yaml.ScalarNode) and k.tag != "tag:yaml.org,2002:merge"):
                    raise _Generic
                ident = (k.tag, k.value)
                if ident in seen:
                    raise DuplicateKey("while constructing a mapping", node.start_mark,
                                       f"duplicate key {k.value!r} (first at line {seen[ident].line + 1})",
                                       k.start_mark)
                seen[ident] = k.start_mark
                out[self.build(k)] = self.build(v)
        elif isinstance(node, yaml.ScalarNode):
            out = self.loader.construct_object(node, deep=True)
        else:
            raise _Generic
        self.memo[id(node)] = (out,)
        return out


def rel(path: Path, root: Path | None) -> str:
    if root:  # the common case without pathlib's parsing (a few µs a call, thousands of calls a load)
        p, r = str(path), str(root).rstrip(os.sep)
        if p.startswith(r + os.sep) and ".." not in p:
            return p[len(r) + 1:]
    try:
        return str(path.relative_to(root)) if root else str(path)
    except ValueError:
        return str(path)


def read(path: Path, root: Path | None = None) -> tuple[Any, list[Problem]]:
    """Parse one YAML file. Returns (data, problems); data is None when unreadable."""
    name = rel(path, root)
    try:
        size = path.stat().st_size
    except OSError as e:
        return None, [Problem(name, None, "", f"cannot read file: {e.strerror or e}")]
    if size > MAX_BYTES:
        return None, [Problem(name, None, "", f"file is {size / 1e6:.1f} MB; catalog files must be under {MAX_BYTES // 2**20} MB")]
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        return None, [Problem(name, None, "", f"not UTF-8 text ({e.reason} at byte {e.start})")]
    except OSError as e:
        return None, [Problem(name, None, "", f"cannot read file: {e.strerror or e}")]
    data = _fast_load(text)
    if data is not _MISS:
        return data, []
    try:
        data = yaml.load(text, Loader=StrictLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        msg = e.problem or str(e)
        if "'\\t'" in msg:
            msg = "tab character: YAML indentation must use spaces"
        elif e.context and e.context_mark and mark is not e.context_mark and e.context_mark.line + 1 != line:
            msg += f" ({e.context} at line {e.context_mark.line + 1})"
        return None, [Problem(name, line, "", f"YAML syntax: {msg}")]
    except yaml.YAMLError as e:
        return None, [Problem(name, None, "", f"YAML syntax: {e}")]
    except RecursionError:
        return None, [Problem(name, None, "", "YAML nesting too deep")]
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        return None, [Problem(name, 1, "", f"expected a mapping of fields at the top level, found {kind}")]
    return data, []


# ---- the fast path. yaml_rs reads YAML 1.2, StrictLoader (PyYAML) YAML 1.1; they differ only on plain scalars of a
# few shapes and on features the catalog never writes. A file goes to yaml_rs only when no line can start a plain
# scalar (or a key) of such a shape and uses none of those features; anything else, and every error, goes to
# StrictLoader, so data and messages are always StrictLoader's. tests/test_catalog_yaml_fast.py holds both readers
# to the same output on the shipped catalog and on generated documents.
_MISS = object()
# Each scan looks in the text for: characters PyYAML refuses and tabs; directives, document markers, anchors,
# aliases, tags, block scalars, complex keys, flow mappings and merge keys; a flow sequence with a comma not
# followed by a space; then, as a whole plain scalar or key (after a line's indentation, ': ', '- ', '[' or ', ';
# up to the line's or the flow item's end), what YAML 1.1 and 1.2 read differently: numbers (1e5, 1.5e3, -.5,
# 0o17, 0b1, 010, 1_000), yes/no/on/off, '=', 1:20 and dates. Prose that happens to match costs only the slow
# path. Separate scans, because each alone is a quick one for the regex engine.
_NUMBER = (r"[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?[eE]|\.[0-9_]+[eE]|0[0-9_oObB]|\.[0-9]|[0-9.]*_[0-9._]*)"
           r"[-+0-9a-fA-F_.oObBxX]*")
_WORD = r"(?:yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF|=|[-+]?[0-9][0-9_]*(?::[0-9_]+)+(?:\.[0-9_]*)?)"
_TOKEN = rf"(?:{_NUMBER}|{_WORD}|[0-9]{{4}}-[0-9][^\n]*)[ ]*(?:[,\]:#]|$)"
_FIRST = r"(?=[-+0-9.yYnNoO=])"  # what a risky token can start with: most values fail here at once
# each scan starts with a literal character, which the regex engine finds fast (one alternation over every
# position was ~3x slower on the shipped catalog's 11 MB)
_BAD = re.compile(r"[^\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]|\t")
_INDICATOR = re.compile(r"\n[ ]*(?:-[ ]+)*[!|>?&*]|:[ ]+[!|>&*]")
_FLOW = re.compile(r"\[[^\]\n]*,[^ \n]")
_TOKENS = tuple(re.compile(lead + _FIRST + _TOKEN, re.M) for lead in (r":[ ]+", r"-[ ]+", r",[ ]+", r"\[[ ]*", r"\n[ ]*"))
_TOKEN_AT_START = re.compile(r"[ ]*" + _FIRST + _TOKEN, re.M)


def _risky(text: str) -> bool:
    """Whether the fast path must step aside; plain str tests first, each regex only where it can match."""
    if not text.replace("\n", "").replace("\r", "").isprintable() and _BAD.search(text):  # controls, tabs
        return True
    if text.startswith(("---", "...", "%")) or "\n---" in text or "\n..." in text or "\n%" in text:
        return True  # document markers, directives
    if "{" in text or "<<" in text:  # flow mappings, merge keys
        return True
    if _INDICATOR.search("\n" + text) or ("[" in text and _FLOW.search(text)):
        return True
    return bool(_TOKEN_AT_START.match(text) or any(rx.search(text) for rx in _TOKENS))


def fast_read(raw: bytes):
    """The document in ``raw`` through the fast path, or None when it must go through :func:`read` (for the data
    or for a message)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    data = _fast_load(text)
    return None if data is _MISS else data


def _fast_load(text: str):
    """The document as StrictLoader would give it, or _MISS when that cannot be shown cheaply."""
    if _yaml_rs is None or _risky(text):
        return _MISS
    try:
        data = _yaml_rs.loads(text, parse_datetime=False, duplicate_key_policy=_yaml_rs.DuplicateKeyPolicy.Error)
    except Exception:  # a syntax error, a duplicate key, ...: StrictLoader says what and where
        return _MISS
    return data if isinstance(data, dict) else _MISS


def line_of(path: Path, loc: Iterable[Any]) -> int | None:
    """Line (1-based) of the node at ``loc`` (keys and list indices), or of its nearest existing parent."""
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=_Base)
    except Exception:
        return None
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == str(part):
                    line = k.start_mark.line + 1
                    node = v
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


# ---------------------------------------------------------------------------------------------- writing


def canonical_order(data: Any, model) -> Any:
    """Reorder mapping keys as the schema declares its fields (unknown keys last, as found)."""

    if not isinstance(data, dict):
        return data
    fields = model.model_fields
    out = {}
    for name, f in fields.items():
        if name in data:
            out[name] = _reorder_value(data[name], f.annotation)
    for k, v in data.items():
        if k not in out:
            out[k] = v
    return out


def _reorder_value(value: Any, annotation) -> Any:
    from typing import get_args

    from pydantic import BaseModel

    def submodel(ann):
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            return ann
        for a in get_args(ann):
            m = submodel(a)
            if m:
                return m
        return None

    m = submodel(annotation)
    if m is None:
        return value
    if isinstance(value, list):
        return [canonical_order(v, m) for v in value]
    return canonical_order(value, m)


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper, s: str):
    style = "|" if "\n" in s else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", s, style=style)


_Dumper.add_representer(str, _str)


def dumps(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120, default_flow_style=False)


def write_atomic(path: Path, text: str) -> None:
    """Write text (UTF-8, as given) so that readers see the old file or the new one, never half of it."""
    write_bytes_atomic(path, text.encode("utf-8"))


def _umask() -> int:
    """The process umask, read without changing it where the platform allows (os.umask can only be read by
    setting it, which would race with other threads creating files)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file beside the target, fsync it, then rename it over the target (atomic on POSIX).

    mkstemp creates its file 0600; the result gets the mode a plain ``open(path, "w")`` would give a new file,
    0666 & ~umask (0644 under umask 022), so others can read what the tool writes when the user's umask says so."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), 0o666 & ~_umask())
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if not hasattr(os, "fchmod"):  # pragma: no cover - Windows: only the read-only bit exists
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
