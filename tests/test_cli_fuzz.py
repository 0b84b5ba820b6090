"""Property-based: the CLI, driven with random and mutated arguments and files, never shows a traceback.

Arguments are drawn from each subcommand's own argparse definition (so a flag added later is fuzzed too):
real and misspelt ids, vocabulary words and junk, good and bad numbers, good CSVs, garbage and truncated ones,
binary files, directories and missing paths; ``--catalog`` points at a copy of a small catalog with one file
truncated or scribbled on. ``zoo verify`` runs only with ``--checkpoint local-dir:…`` and the hub unreachable.

Every run must end with an int exit code and no "Traceback" on stderr. A last-resort "internal error" line is
not a traceback, but it is a bug: in the zoo commands (whose code this test's authors own) it fails the test;
elsewhere it is reported as a warning naming the command, so it is seen without failing unrelated work.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from fmreview.reports.cli import build_parser, main  # noqa: E402

try:
    from fmreview.reports.cli_meta import EFFECT_COLUMNS  # noqa: E402
except ImportError:  # pragma: no cover
    EFFECT_COLUMNS = ("ai", "bi", "ci", "di")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import tiny_zoo  # noqa: E402

BCG = Path(__file__).parent / "data" / "metafor" / "bcg.csv"
COMMANDS = [("effects",), ("meta",), ("nma",), ("rank",), ("results",), ("models",), ("datasets",), ("show",),
            ("catalog", "validate"), ("zoo", "list"), ("zoo", "verify")]
ARMS = Path(__file__).parent / "data" / "metafor_mv" / "hasselblad_arms.csv"
RANKS = Path(__file__).parent / "data" / "fuzz" / "ranks_complete.csv"  # a complete 4 x 3 table
IDS = ["sam", "medsam", "clip", "tinyvit", "tinyvitt", "MEDSAM", "sam-med2d", "", "tinyvit-probe-ok",
       "tinyvit-probe-okk", "kits23", "chexpert", "demo-2024", "x" * 300, "../../etc/passwd", "é✓", "-", "--"]
WORDS = ["ct", "CT", "mri", "x-ray", "segmentation", "classification", "zero-shot", "linear-probe", "box", "dice",
         "auc", "REML", "DL", "knha", "OR", "RR", "SMD", "AUC", "MN", "yi", "vi", "tpos", "tneg", "cpos", "cneg",
         "ablat", "alloc", "year", "nosuchcol", "yi,vi", "a,,b", "json", "csv", "table", "vision-only", "2d", "3d",
         "study", "treatment", "no_contact", "dataset", "model", "score", "alloc/year", "1 | alloc", "t"]
NUMBERS = ["0", "1", "-1", "2", "5", "10", "2024", "1999", "0.5", "1e9", "-1e9", "nan", "inf", "-inf", "1e-300",
           "99999999999999999999", "0x10", "one", ""]


# ------------------------------------------------------------------------------------------ the world


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from conftest import write_catalog

    root = tmp_path_factory.mktemp("fuzz")
    files = tiny_zoo.tiny_vit(root / "tinyvit")
    cat = tiny_zoo.catalog(write_catalog(root / "catalog"), files)
    tiny_zoo.synthetic_medmnist(root / "synth.npz", n_train=20, n_test=16)
    f = root / "files"
    f.mkdir()
    (f / "bcg.csv").write_bytes(BCG.read_bytes())
    (f / "empty.csv").write_bytes(b"")
    (f / "header.csv").write_text("yi,vi\n")
    (f / "text.csv").write_text("yi,vi\na,b\n1,\n,2\n")
    (f / "ragged.csv").write_text('yi,vi\n1,2,3,4\n"unclosed,1\n')
    (f / "negvar.csv").write_text("yi,vi\n0.1,-1\n0.2,0\n0.3,1e308\n")
    (f / "one.csv").write_text("yi,vi\n0.5,0.1\n")
    (f / "binary.csv").write_bytes(bytes(range(256)) * 4)
    (f / "latin1.csv").write_bytes("yi,vi,lab\n1,0.1,caf\xe9\n".encode("latin-1"))
    (f / "dir").mkdir()
    (f / "not.npz").write_text("image,label\n")
    np.savez(f / "one-class.npz", train_images=np.zeros((4, 8, 8), np.uint8), train_labels=np.zeros((4, 1)),
             test_images=np.zeros((4, 8, 8), np.uint8), test_labels=np.zeros((4, 1), int))
    np.savez(f / "two-channel.npz", train_images=np.zeros((4, 8, 8, 2), np.uint8), train_labels=np.arange(4) % 2,
             test_images=np.zeros((4, 8, 8, 2), np.uint8), test_labels=np.arange(4) % 2)
    img = f / "images"
    img.mkdir()
    (img / "labels.csv").write_text("file,class\na.png,0\n")
    return {"root": root, "catalog": cat, "tinyvit": root / "tinyvit", "npz": root / "synth.npz", "files": f}


def _paths(world) -> list[str]:
    f = world["files"]
    return [str(p) for p in sorted(f.iterdir())] + [str(f / "missing.csv"), str(world["npz"]),
                                                    str(world["catalog"]), "-", str(ARMS), str(RANKS)]


def _bcg_mutation(data, tmp: Path) -> str:
    """bcg.csv with bytes deleted, duplicated or replaced: a plausible corruption of a good file."""
    raw = bytearray(BCG.read_bytes())
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        i = data.draw(st.integers(0, len(raw) - 1), label="at")
        op = data.draw(st.sampled_from(["cut", "dup", "byte", "truncate"]), label="op")
        if op == "cut":
            del raw[i:i + data.draw(st.integers(1, 40))]
        elif op == "dup":
            raw[i:i] = raw[i:i + data.draw(st.integers(1, 40))]
        elif op == "byte":
            raw[i] = data.draw(st.integers(0, 255))
        else:
            del raw[i:]
        if not raw:
            break
    p = Path(tempfile.mkdtemp(dir=tmp)) / "mutated.csv"
    p.write_bytes(bytes(raw))
    return str(p)


def _catalog_copy(data, world, tmp: Path) -> str:
    """A copy of the fuzz catalog with one YAML file truncated, scribbled on, emptied or given a bad line."""
    dst = Path(tempfile.mkdtemp(dir=tmp)) / "catalog"
    shutil.copytree(world["catalog"], dst)
    yamls = sorted(dst.rglob("*.yaml"))
    victim = data.draw(st.sampled_from(yamls), label="file")
    raw = victim.read_bytes()
    op = data.draw(st.sampled_from(["truncate", "scribble", "empty", "line", "tab", "dupkey"]), label="catalog op")
    if op == "truncate":
        raw = raw[:data.draw(st.integers(0, len(raw)))]
    elif op == "scribble":
        i = data.draw(st.integers(0, len(raw)))
        raw = raw[:i] + data.draw(st.binary(min_size=1, max_size=12)) + raw[i:]
    elif op == "empty":
        raw = b""
    elif op == "line":
        lines = raw.split(b"\n")
        j = data.draw(st.integers(0, len(lines) - 1))
        lines[j] = data.draw(st.sampled_from([b"id: [", b"year: 93,7M", b"value: nan", b"  - : :", b"results: 3",
                                               b"value: -1e400", b"unit: percent", b"&a [*a]",
                                               b"!!python/object:os.system"]))
        raw = b"\n".join(lines)
    elif op == "tab":
        raw = raw.replace(b"  ", b"\t", 1)
    else:
        raw = raw + b"\n" + raw.split(b"\n")[0] + b"\n"
    victim.write_bytes(raw)
    return str(dst)


def _value(data, action, world, tmp: Path) -> list[str]:
    """Tokens for one optional argument of a subparser."""
    opt = data.draw(st.sampled_from(action.option_strings), label="flag")
    if action.nargs == 0:
        return [opt]
    n = 2 if action.nargs == 2 else 1
    out = [opt]
    for _ in range(n):
        if action.dest == "catalog":
            pool = st.sampled_from(["good", "mutated", "missing", "file"])
            kind = data.draw(pool, label="catalog")
            out.append({"good": lambda: str(world["catalog"]), "mutated": lambda: _catalog_copy(data, world, tmp),
                        "missing": lambda: str(tmp / "nope"), "file": lambda: str(BCG)}[kind]())
            continue
        if action.dest == "checkpoint":  # never the hub
            out.append("local-dir:" + data.draw(st.sampled_from([str(world["tinyvit"]), str(tmp), str(tmp / "x")])))
            continue
        choices = [str(c) for c in action.choices] if action.choices else []
        numeric = action.type in (int, float) or getattr(action.type, "__name__", "") in ("_positive",)
        junk = [st.sampled_from(IDS), st.sampled_from(WORDS), st.sampled_from(NUMBERS),
                st.sampled_from(_paths(world)), st.text(max_size=12)]
        if choices:  # mostly a valid word, so the run gets past the parser
            likely = st.sampled_from(choices)
        elif numeric:
            likely = st.sampled_from(NUMBERS[:12])
        elif action.dest == "measure":
            likely = st.sampled_from(["RR", "OR", "RD", "SMD", "MD", "PLO", "AUC", "MN", "COR", "rr"])
        elif action.dest in EFFECT_COLUMNS:
            likely = st.sampled_from(["tpos", "tneg", "cpos", "cneg", "ablat", "year", "yi", "vi", "alloc"])
        elif action.dest in ("model", "dataset", "source", "compare", "result", "id"):
            likely = st.sampled_from(IDS)
        else:
            likely = st.sampled_from(WORDS + IDS[:8])
        strategies = [likely] * 6 + junk
        if action.dest in ("out", "forest", "funnel", "records"):
            strategies = [st.just(str(tmp / "out" / "x")), st.just(str(tmp)), st.just(str(world["files"] / "bcg.csv"))]
        if action.dest == "data":
            strategies = [st.just(str(world["npz"]))] * 3 + [st.sampled_from(_paths(world)), st.just(str(tmp))]
        out.append(data.draw(st.one_of(strategies), label=action.dest))
    return out


def _subparser(path: tuple[str, ...]):
    parser = build_parser()
    for name in path:
        sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
        parser = sub.choices[name]
    return parser


PARSERS = {cmd: _subparser(cmd) for cmd in COMMANDS}


def _argv(data, cmd, world, tmp: Path) -> list[str]:
    parser = PARSERS[cmd]
    argv = list(cmd)
    positionals = [a for a in parser._actions if not a.option_strings]
    optionals = [a for a in parser._actions if a.option_strings and a.dest not in ("help", "trust_remote_code")]
    for a in positionals:
        if a.nargs == "?" and data.draw(st.booleans(), label="omit positional"):
            continue
        if a.dest == "file":
            v = data.draw(st.one_of(st.sampled_from(_paths(world)), st.just("bcg-mutated")), label="file")
            argv.append(_bcg_mutation(data, tmp) if v == "bcg-mutated" else v)
        elif cmd == ("zoo", "verify"):  # mostly the model the local checkpoint holds, so runs reach the recipe
            argv.append(data.draw(st.one_of([st.just("tinyvit")] * 4 + [st.sampled_from(IDS)]), label=a.dest))
        else:
            argv.append(data.draw(st.sampled_from(IDS), label=a.dest))
    chosen = data.draw(st.lists(st.sampled_from(optionals), max_size=5), label="flags") if optionals else []
    required = [a for a in optionals if a.required and a not in chosen]
    if cmd == ("zoo", "verify") and data.draw(st.sampled_from([True] * 6 + [False]), label="with --data"):
        required += [a for a in optionals if a.dest == "data" and a not in chosen]
    for a in required + chosen:
        argv += _value(data, a, world, tmp)
    if cmd == ("zoo", "verify"):
        if not any(t.startswith("local-dir:") for t in argv):
            argv += ["--checkpoint", f"local-dir:{world['tinyvit']}"]
        argv += ["--records", str(tmp / "records"), "--quiet"]
        if "--bootstrap" not in argv:
            argv += ["--bootstrap", "20"]
    # now and then a flag that does not exist, or a stray token
    if data.draw(st.sampled_from([False] * 19 + [True]), label="junk flag"):
        argv.insert(data.draw(st.integers(1, len(argv))), data.draw(st.sampled_from(["--nope", "-x", "--", "="])))
    return argv


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    stdin = sys.stdin
    sys.stdin = io.StringIO("yi,vi\n0.1,0.01\n0.2,0.02\n")  # for "-" (stdin) as a file
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as e:  # argparse: usage errors (2), --help (0)
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        sys.stdin = stdin
    return code, out.getvalue(), err.getvalue()


LOG = os.environ.get("FMREVIEW_FUZZ_LOG")  # a file to append every run to, when studying what the fuzz reaches


def check(cmd, argv, code, err, found):
    if LOG:
        with open(LOG, "a", encoding="utf-8") as f:
            f.write(f"{code}\t{' '.join(argv)}\t{err.strip().splitlines()[-1] if err.strip() else ''}\n")
    assert isinstance(code, int), (argv, code)
    assert "Traceback" not in err, (argv, err)
    if "internal error" in err:
        if cmd[0] == "zoo":
            pytest.fail(f"fmreview {' '.join(argv)}\n{err}")
        found.setdefault(err.strip().split(" (please report")[0], argv)


@pytest.fixture
def quiet_env(world, monkeypatch, tmp_path_factory):
    monkeypatch.setenv("FMREVIEW_CATALOG", str(world["catalog"]))
    monkeypatch.setenv("FMREVIEW_RECORDS", str(tmp_path_factory.mktemp("records")))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # belt and braces: verify never gets a hub checkpoint
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("FMREVIEW_WORKERS", "1")
    monkeypatch.delenv("FMREVIEW_DEBUG", raising=False)
    warnings.simplefilter("ignore")  # matplotlib/numpy/pandas warnings are not what this test is about
    yield


def _report(found):
    if found:
        lines = [f"{msg}\n    fmreview {' '.join(argv)}" for msg, argv in found.items()]
        warnings.simplefilter("always", UserWarning)  # quiet_env ignores the libraries' warnings, not this one
        warnings.warn("internal errors outside the zoo:\n" + "\n".join(lines), stacklevel=2)


FAST = [c for c in COMMANDS if c != ("zoo", "verify")]


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(data=st.data())
def _fuzz_fast(data, world, found):
    cmd = data.draw(st.sampled_from(FAST), label="command")
    with tempfile.TemporaryDirectory() as tmp:
        argv = _argv(data, cmd, world, Path(tmp))
        code, _, err = run(argv)
        check(cmd, argv, code, err, found)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(data=st.data())
def _fuzz_verify(data, world, found):
    cmd = ("zoo", "verify")
    with tempfile.TemporaryDirectory() as tmp:
        argv = _argv(data, cmd, world, Path(tmp))
        code, _, err = run(argv)
        check(cmd, argv, code, err, found)


def test_cli_never_shows_a_traceback(world, quiet_env):
    found: dict = {}
    _fuzz_fast(world=world, found=found)
    _report(found)


def test_zoo_verify_never_shows_a_traceback(world, quiet_env):
    found: dict = {}
    _fuzz_verify(world=world, found=found)
    _report(found)


def test_the_fuzzer_reaches_the_handlers(world, quiet_env):
    """The fuzz is worth something only if good arguments get past the parser: a known-good call of each
    command succeeds through the same run() helper."""
    good = {
        ("effects",): ["effects", str(BCG), "--measure", "RR", "--ai", "tpos", "--bi", "tneg", "--ci", "cpos",
                       "--di", "cneg"],
        ("meta",): ["meta", str(BCG)],
        ("nma",): ["nma", str(ARMS), "--vi", "vi"],
        ("rank",): ["rank", str(RANKS), "--block", "dataset", "--treatment", "model", "--value", "score"],
        ("results",): ["results", "--model", "sam"],
        ("models",): ["models"],
        ("datasets",): ["datasets"],
        ("show",): ["show", "sam"],
        ("catalog", "validate"): ["catalog", "validate"],
        ("zoo", "list"): ["zoo", "list"],
        ("zoo", "verify"): ["zoo", "verify", "tinyvit", "--data", str(world["npz"]), "--checkpoint",
                            f"local-dir:{world['tinyvit']}", "--bootstrap", "20", "--quiet"],
    }
    assert set(good) == set(COMMANDS)
    for cmd, argv in good.items():
        code, out, err = run(argv)
        assert code == 0, (argv, err)
        assert out


def test_internal_errors_are_one_line(monkeypatch):
    import fmreview.reports.cli_catalog as C

    monkeypatch.setattr(C, "cmd_validate", lambda args: 1 / 0, raising=True)
    monkeypatch.delenv("FMREVIEW_DEBUG", raising=False)
    code, _, err = run(["catalog", "validate"])
    assert code == 2 and err.count("\n") == 1 and "internal error: ZeroDivisionError" in err and "Traceback" not in err
    assert os.path.basename(__file__) in err


def test_only_typed_errors_are_the_users(monkeypatch):
    """A bare ValueError from deep inside a library is a bug (exit 2, "internal error"), not the user's fault;
    each layer's own input errors are (exit 1, "error:")."""
    import fmreview.reports.cli_catalog as C
    from fmreview.analysis.errors import InputError
    from fmreview.catalog.errors import QueryError
    from fmreview.lit.review import ReviewError

    monkeypatch.delenv("FMREVIEW_DEBUG", raising=False)

    def raising(exc):
        def handler(args):
            raise exc
        return handler

    monkeypatch.setattr(C, "cmd_validate", raising(ValueError("operands could not be broadcast")))
    code, _, err = run(["catalog", "validate"])
    assert code == 2 and "internal error: ValueError: operands could not be broadcast" in err
    for exc in (QueryError("unknown modality 'sonar'"), InputError("column yi: expected numbers"),
                ReviewError("review.yaml: no such file")):
        monkeypatch.setattr(C, "cmd_validate", raising(exc))
        code, _, err = run(["catalog", "validate"])
        assert (code, err) == (1, f"fmreview: error: {exc}\n"), type(exc)


# ------------------------------------------------------------------------------------------ zoo data, drawn


_DTYPES = ["uint8", "uint16", "float32", "float64", "int64", "bool", "float16", "int8", "complex64", "U3"]


DEFECTS = ["channels", "ndim", "dtype", "labels-float", "labels-multi", "labels-short", "labels-negative",
           "one-class", "empty", "missing-key", "unseen-class", "tiny"]


@st.composite
def medmnist_arrays(draw):
    """A MedMNIST-like npz: a well-formed one of drawn size, channels, dtype and classes, and in most draws one
    drawn defect in one drawn split (so clean runs reach the recipe and defective ones test the refusals)."""
    rng = np.random.default_rng(draw(st.integers(0, 3)))
    tail = draw(st.sampled_from([(8, 8), (8, 8, 1), (8, 8, 3), (8, 8, 4), (12, 10, 3)]))
    dtype = draw(st.sampled_from(["uint8", "float32", "float64", "uint16", "int64"]))
    classes = draw(st.integers(2, 4))
    flat = draw(st.booleans())
    arrays = {}
    for split in ("train", "val", "test"):
        n = draw(st.integers(classes, 14))
        y = np.arange(n) % classes
        x = (rng.integers(0, 60, (n, *tail)) + 150 * (y % 2).reshape(-1, *[1] * len(tail))).astype(dtype)
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = x, (y if flat else y.reshape(-1, 1))
    defect = draw(st.sampled_from([None] * len(DEFECTS) + DEFECTS))
    split = draw(st.sampled_from(["train", "test"]))
    xk, yk = f"{split}_images", f"{split}_labels"
    x, y = arrays[xk], arrays[yk]
    if defect == "channels":
        arrays[xk] = np.repeat(x.reshape(*x.shape[:3], -1)[..., :1], draw(st.sampled_from([2, 5, 28])), -1)
    elif defect == "ndim":
        arrays[xk] = x.reshape(len(x), -1) if draw(st.booleans()) else x.reshape(len(x), 1, *x.shape[1:], 1)
    elif defect == "dtype":
        arrays[xk] = x.astype(draw(st.sampled_from(["complex64", "bool", "float16", "int8", "U3"])))
    elif defect == "labels-float":
        arrays[yk] = y.astype(float) + draw(st.sampled_from([0.0, 0.5]))
    elif defect == "labels-multi":
        arrays[yk] = np.eye(classes, dtype=int)[y.reshape(-1)]
    elif defect == "labels-short":
        arrays[yk] = y[:-1]
    elif defect == "labels-negative":
        arrays[yk] = y - draw(st.integers(1, 3))
    elif defect == "one-class":
        arrays[yk] = np.zeros_like(y)
    elif defect == "empty":
        arrays[xk], arrays[yk] = x[:0], y[:0]
    elif defect == "missing-key":
        del arrays[draw(st.sampled_from([xk, yk]))]
    elif defect == "unseen-class":
        arrays[yk] = y + classes * (split == "test")
    elif defect == "tiny":
        arrays[xk], arrays[yk] = x[:2], y[:2]
    return arrays


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(arrays=medmnist_arrays(), extra=st.lists(st.sampled_from(["--limit", "--strict", "--result"]), max_size=2))
def _fuzz_zoo_data(arrays, extra, world, found):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "drawn.npz"
        np.savez(path, **arrays)
        argv = ["zoo", "verify", "tinyvit", "--data", str(path), "--checkpoint", f"local-dir:{world['tinyvit']}",
                "--records", str(Path(tmp) / "records"), "--bootstrap", "20", "--quiet"]
        for flag in extra:
            argv += {"--limit": ["--limit", "3"], "--strict": ["--strict"],
                     "--result": ["--result", "tinyvit-probe-wrong"]}[flag]
        code, out, err = run(argv)
        check(("zoo", "verify"), argv, code, err, found)
        assert code in (0, 1, 3), (argv, err)
        if code == 1:  # refused: the message names the data file or the split it read
            assert "drawn.npz" in err, err


def test_zoo_verify_on_drawn_data_never_shows_a_traceback(world, quiet_env):
    found: dict = {}
    _fuzz_zoo_data(world=world, found=found)
    assert not found
