"""One way to report bad input (common/errors.py), for every tool named in common/entry_points.py:
a UserError is one line and exit code 2, anything else keeps its traceback; TensorFlow starts
without the CPU-only notices."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from common.entry_points import ENTRY_POINTS
from common.errors import USER_ERROR, UserError, UserFileNotFoundError, UserKeyError, UserValueError, entry_point
from common.paths import REPO_ROOT
from common.tf_startup import FILTER_MARKER, LOG_LEVEL_VARIABLE
from tests.helpers.synthetic_pairs import pairs_lines

BASE_CONFIG = REPO_ROOT / "experiments" / "configs" / "base.yaml"
NOTICES = ("cuInit", "Could not find cuda drivers", "absl::InitializeLog", "oneDNN custom operations")


def test_a_user_error_is_one_line_and_exit_code_2(capsys):
    @entry_point("tool.py")
    def main(argv=None):
        raise UserValueError("config.yaml:3: bad value\n  in 'x'")

    assert main() == USER_ERROR == 2
    captured = capsys.readouterr()
    assert captured.err == "tool.py: error: config.yaml:3: bad value in 'x'\n" and captured.out == ""


def test_anything_else_escapes_with_its_traceback():
    @entry_point("tool.py")
    def main(argv=None):
        raise ValueError("Input 0 of layer 'dense' is incompatible with the layer")  # a bug

    with pytest.raises(ValueError, match="incompatible"):
        main()


def test_user_errors_are_still_the_builtins_their_callers_catch():
    from align.image_io import ImageReadError
    from common.lfw_download import ChecksumError
    from common.strict_yaml import DuplicateKeyError
    from experiments.experiment_sets import SetError
    from input_pipeline.tfrecords import CorruptShardError
    from training.config import ConfigError
    from training.loop import NonFiniteLossError, WorkerLostError
    from training.run_dir import RunDirError
    from training.schedules import ScheduleError
    from verification.pairs import PairsFormatError

    assert issubclass(UserValueError, ValueError) and issubclass(UserFileNotFoundError, FileNotFoundError)
    assert str(UserKeyError("x.npz: missing key 'paths'")) == "x.npz: missing key 'paths'"  # not quoted
    for error in (ConfigError, ScheduleError, PairsFormatError, DuplicateKeyError, SetError, CorruptShardError):
        assert issubclass(error, UserError) and issubclass(error, ValueError), error
    for error in (RunDirError, NonFiniteLossError, WorkerLostError, ChecksumError):
        assert issubclass(error, UserError) and issubclass(error, RuntimeError), error
    assert issubclass(ImageReadError, UserError)


def test_a_bug_inside_train_py_keeps_its_traceback(tmp_path, monkeypatch):
    """A ValueError from deep inside training (here in place of a Keras shape error) is not bad
    input: it must escape train.py's main, not become a one-line message."""
    import train
    from training import loop

    def shape_bug(*args, **kwargs):
        raise ValueError("Input 0 of layer 'embedding' is incompatible with the layer")

    monkeypatch.setattr(loop, "run_training", shape_bug)
    with pytest.raises(ValueError, match="is incompatible"):
        train.main(["--config", str(BASE_CONFIG), "--set", f"run_dir={tmp_path / 'run'}"])


def one_error_line(capsys, prog: str) -> str:
    """The message of the single `<prog>: error: ...` line on stderr."""
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith(f"{prog}: error: "), err
    return err[len(f"{prog}: error: ") :].strip()


def test_real_bad_inputs_through_the_tools_are_one_line_and_exit_2(tmp_path, capsys):
    import eval_lfw
    import train
    import verify

    assert train.main(["--config", str(BASE_CONFIG), "--set", "optimizer.nmae=adam"]) == 2
    assert "unknown key 'optimizer.nmae'" in one_error_line(capsys, "train.py")
    embeddings = tmp_path / "emb.npz"
    assert eval_lfw.main(["--embeddings", str(embeddings), "--pairs", str(tmp_path / "pairs.txt")]) == 2
    assert one_error_line(capsys, "eval_lfw.py") == f"{tmp_path / 'pairs.txt'}: pairs file not found"
    assert verify.main([str(tmp_path / "a.jpg"), str(tmp_path / "b.jpg"), "--model", "m", "--threshold", "0.3"]) == 2
    assert one_error_line(capsys, "verify.py") == f"{tmp_path / 'a.jpg'}: photo not found"


def tool_scripts() -> set[str]:
    """Every module of the repository that runs as a program (`if __name__ == "__main__":`)."""
    found = set()
    for path in REPO_ROOT.rglob("*.py"):
        relative = path.relative_to(REPO_ROOT)
        if relative.parts[0] in ("tests", "runs", "cache", ".git"):
            continue
        if re.search(r"^if __name__ == .__main__.:", path.read_text(), re.M):
            found.add(".".join(relative.with_suffix("").parts))
    return found


def test_every_tool_is_listed_once_reports_through_the_helper_and_has_a_section_in_the_cli_docs():
    modules = [entry.module for entry in ENTRY_POINTS]
    assert sorted(modules) == sorted(tool_scripts())  # a new tool must join common/entry_points.py
    cli_docs = (REPO_ROOT / "docs" / "cli.md").read_text()
    for entry in ENTRY_POINTS:
        main = importlib.import_module(entry.module).main
        assert getattr(main, "prog", None) == entry.prog, entry.command
        assert f"### `python {entry.command}`" in cli_docs, entry.command


def test_every_tools_usage_errors_name_it_as_its_user_errors_do(capsys):
    for entry in ENTRY_POINTS:
        main = importlib.import_module(entry.module).main
        with pytest.raises(SystemExit) as stopped:
            main(["--no-such-option"])
        assert stopped.value.code == 2, entry.command
        err = capsys.readouterr().err.splitlines()
        assert err[0].startswith(f"usage: {entry.prog} ") and err[-1].startswith(f"{entry.prog}: error: "), err


# ---- every tool for real, in its own process (slow: most import TensorFlow) -------------------------


def _file(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _pairs(tmp: Path) -> Path:
    return _file(tmp / "pairs.txt", "\n".join(pairs_lines(2, 2)[0]) + "\n")


# Per tool: a bad input that fails after TensorFlow is imported (where the tool imports it).
BAD_INPUTS = {
    "demo.py": lambda t: ["--data-root", t / "no_data"],
    "align/align_dataset.py": lambda t: [
        "--input-dir",
        _folder(t / "photos"),
        "--output-dir",
        t / "out",
        "--workers",
        "0",
        "--only-list",
        _file(t / "list.txt", "/absolute/a.jpg\n"),
    ],
    "train.py": lambda t: [
        "--config",
        BASE_CONFIG,
        "--set",
        "loss.name=am_softmax",
        "--set",
        "loss.hparams.margn=1",
        "--set",
        f"run_dir={t / 'run'}",
    ],
    "eval_lfw.py": lambda t: ["--model", t / "no_model", "--lfw-dir", t, "--pairs", t / "no_pairs.txt"],
    "verify.py": lambda t: [_file(t / "a.jpg"), _file(t / "b.jpg"), "--model", t / "no_model", "--threshold", "0.3"],
    "identify.py": lambda t: [
        "enroll",
        "--gallery",
        _file(t / "people" / "P0" / "a.jpg").parent.parent,
        "--out",
        t / "g.npz",
        "--model",
        t / "no_model",
    ],
    "-m models": lambda t: ["export-tflite", t / "no_run"],
    "-m input_pipeline.write_tfrecords": lambda t: ["--input-dir", t / "none", "--output-dir", t / "out"],
    "tools/demo_verification.py": lambda t: [
        "--model",
        t / "no_model",
        "--threshold",
        "0.3",
        "--aligned-lfw",
        t,
        "--num-pairs",
        "2",
        "--data-root",
        _folder(t / "lfw").parent,
        "--pairs",
        _pairs(t),
    ],
    "tools/demo_identification.py": lambda t: [
        "--model",
        t / "no_model",
        "--threshold",
        "0.3",
        "--min-photos",
        "1",
        "--num-known",
        "1",
        "--num-unknown",
        "0",
        "--data-root",
        _file(t / "celeba299" / "P0" / "a.jpg").parent.parent.parent,
    ],
    "experiments/run.py": lambda t: ["optimizer_bn", "--seeds", "0"],
    "-m experiments.mnist_features": lambda t: ["--data-root", t / "none", "--out-dir", t / "out"],
    "-m experiments.findings": lambda t: ["--no-such-option"],
    "experiments/target_logit_curve.py": lambda t: ["--no-such-option"],
    "tools/plot_runs.py": lambda t: [t / "absent", "--out", t / "x.png"],
    "tools/backfill_hparams.py": lambda t: [t],
    "tools/screenshot_hparams.py": lambda t: [],
    "benchmarks/bench_align.py": lambda t: ["--data-root", t / "none"],
    "benchmarks/bench_batch_norm.py": lambda t: ["--config", t / "none.yaml"],
    "benchmarks/bench_big_image.py": lambda t: ["--model", t / "no_model"],
    "benchmarks/bench_eval.py": lambda t: ["--pairs", t / "none.txt"],
    "benchmarks/bench_input.py": lambda t: ["--train-dirs", t / "none"],
    "benchmarks/bench_lfw_check.py": lambda t: ["--config", t / "none.yaml", "--widths", "0.25"],
    "benchmarks/bench_onednn_isa.py": lambda t: [
        "--width",
        "-1",
        "--rounds",
        "1",
        "--steps",
        "1",
    ],  # the child refuses the width
    "benchmarks/bench_scan.py": lambda t: ["--tree", _file(t / "tree" / "mine.txt").parent, "--identities", "2"],
    "benchmarks/bench_tflite.py": lambda t: [t / "no_run"],
    "benchmarks/bench_train.py": lambda t: ["--train-dirs", t, "--config", t / "none.yaml"],
    "benchmarks/gpu_check.py": lambda t: ["--out", t / "out"],  # GPUs hidden
}

# Reports whether a process imported TensorFlow, from Python's start-up hook (no tool is changed).
IMPORT_REPORT_HOOK = """import atexit, os, sys
atexit.register(lambda: open(os.environ["TF_IMPORT_REPORT"], "w").write(str("tensorflow" in sys.modules)))
"""


def test_every_tool_has_a_bad_input_below():
    assert sorted(BAD_INPUTS) == sorted(entry.command for entry in ENTRY_POINTS)


def _run_on_bad_input(entry, tmp_path: Path) -> tuple[subprocess.CompletedProcess, str]:
    """The tool on its bad input, TensorFlow's logging at its default; (process, whether it
    imported TensorFlow)."""
    arguments = BAD_INPUTS[entry.command]
    hook = _file(tmp_path / "hook" / "sitecustomize.py", IMPORT_REPORT_HOOK).parent
    env = {key: value for key, value in os.environ.items() if key not in (LOG_LEVEL_VARIABLE, FILTER_MARKER)}
    env.update(PYTHONPATH=str(hook), TF_IMPORT_REPORT=str(tmp_path / "imported"))
    if entry.command == "benchmarks/gpu_check.py":
        env["CUDA_VISIBLE_DEVICES"] = ""  # its bad input here: no GPU
    work = _folder(tmp_path / "work")
    done = subprocess.run(
        entry.argv(sys.executable) + [str(a) for a in arguments(work)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    imported = tmp_path / "imported"
    return done, imported.read_text() if imported.exists() else "no report"


@pytest.fixture(scope="module")
def tool_runs(tmp_path_factory) -> dict:
    """Every tool run once on its bad input, as many at a time as there are cores: each run is
    mostly TensorFlow's start-up, so the 24 of them cost a fraction of running them in turn."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        futures = {
            entry.command: pool.submit(_run_on_bad_input, entry, tmp_path_factory.mktemp("tool"))
            for entry in ENTRY_POINTS
        }
        return {command: future.result() for command, future in futures.items()}


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("entry", ENTRY_POINTS, ids=lambda entry: entry.command)
def test_tool_reports_bad_input_in_one_line_and_starts_tensorflow_quietly(entry, tool_runs):
    """Each tool on a bad input it meets after importing TensorFlow, with TensorFlow's logging at
    its default: exit code 2, the error as the last line, no traceback and none of the CPU-only
    start-up notices."""
    done, imported = tool_runs[entry.command]
    assert done.returncode == 2, done.stderr[-3000:]
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith(f"{entry.prog}: error: "), done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert not [line for line in lines if any(notice in line for notice in NOTICES)], done.stderr[-3000:]
    assert imported == str(entry.tensorflow)
