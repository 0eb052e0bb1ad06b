"""The repository's command-line tools, named in one place.

Tests iterate this list (every tool reports a user error in one line with exit code 2, and starts
TensorFlow without the CPU-only notices) and check that docs/cli.md has a section for each, so a new tool cannot
be forgotten: add it here. The code runs from the repository root, not installed, so this is a
list of commands rather than pyproject's [project.scripts].
"""

from __future__ import annotations

from dataclasses import dataclass

from common.paths import REPO_ROOT


@dataclass(frozen=True)
class EntryPoint:
    """One tool: `command` is what follows `python` (a script path, or `-m module`); `tensorflow`
    says whether it imports TensorFlow (through common.tf_startup.import_tensorflow)."""

    command: str
    tensorflow: bool = True

    @property
    def prog(self) -> str:
        """The tool's name in its error lines: the script path, or `python -m module`."""
        return f"python {self.command}" if self.command.startswith("-m ") else self.command

    @property
    def module(self) -> str:
        """The importable module that holds the tool's `main`."""
        if self.command.startswith("-m "):
            name = self.command[3:]
            return f"{name}.__main__" if (REPO_ROOT / name.replace(".", "/")).is_dir() else name
        return self.command.removesuffix(".py").replace("/", ".")

    def argv(self, python: str) -> list[str]:
        """The command line that runs it with the interpreter `python`."""
        return [python, *self.command.split()]


ENTRY_POINTS = (
    EntryPoint("demo.py", tensorflow=False),  # runs the tools below as child processes
    EntryPoint("align/align_dataset.py"),
    EntryPoint("train.py"),
    EntryPoint("eval_lfw.py"),
    EntryPoint("verify.py"),
    EntryPoint("identify.py"),
    EntryPoint("-m models"),
    EntryPoint("-m input_pipeline.write_tfrecords"),
    EntryPoint("tools/demo_verification.py"),
    EntryPoint("tools/demo_identification.py"),
    EntryPoint("experiments/run.py"),
    EntryPoint("-m experiments.findings"),
    EntryPoint("-m experiments.mnist_features"),
    EntryPoint("experiments/target_logit_curve.py"),
    EntryPoint("tools/plot_runs.py"),
    EntryPoint("tools/backfill_hparams.py"),
    EntryPoint("tools/screenshot_hparams.py", tensorflow=False),
    EntryPoint("benchmarks/bench_align.py"),
    EntryPoint("benchmarks/bench_batch_norm.py"),
    EntryPoint("benchmarks/bench_big_image.py"),
    EntryPoint("benchmarks/bench_eval.py"),
    EntryPoint("benchmarks/bench_input.py"),
    EntryPoint("benchmarks/bench_lfw_check.py"),
    EntryPoint("benchmarks/bench_onednn_isa.py", tensorflow=False),
    EntryPoint("benchmarks/bench_scan.py", tensorflow=False),
    EntryPoint("benchmarks/bench_tflite.py"),
    EntryPoint("benchmarks/bench_train.py"),
    EntryPoint("benchmarks/gpu_check.py"),
)
