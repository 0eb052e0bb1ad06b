"""The layout of a run directory: the one place that names its files. train.py writes them;
eval_lfw.py, experiments/, demo.py, `python -m models` and the recognition tools read them.

    runs/<name>/
      config.yaml          the resolved config (compared key by key on resume)
      git.txt, git.diff    the code's revision and uncommitted changes at the start
      labels.txt           one identity per line, line index = label
      file_list.tsv        label<TAB>root<TAB>path within the root of every training image (folder routes)
      train.log            the run's log
      checkpoints/         tf.train.CheckpointManager's files
      tensorboard/         event files; tensorboard/hparams/ holds the HParams session
      export/              embedder/ (SavedModel), model_info.json, embedder*.tflite
      eval/                lfw_view2.json (LFW View 2), <name>_final.json (another benchmark:
                           verification/benchmarks.py) and eval_lfw.py's reports
      DONE.json            a finished run's summary (steps, train_minutes of this command and
                           total_train_minutes of all its sessions, last LFW check `lfw`, last check
                           of every target `checks`, export)
      STOPPED.json         a run stopped by a non-finite loss: `step` and train.py's `message`

TF-free, so every layer may use it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from common.atomic_files import atomic_write_bytes
from common.errors import UserFileNotFoundError
from common.paths import REPO_ROOT, RUNS_DIR

CONFIG_FILE = "config.yaml"
LABELS_FILE = "labels.txt"
FILE_LIST_FILE = "file_list.tsv"
LOG_FILE = "train.log"
GIT_STATE_FILE = "git.txt"
GIT_DIFF_FILE = "git.diff"
GIT_REVISION_KEY = "revision:"  # git.txt's first line: "revision: <sha>"
DONE_FILE = "DONE.json"
STOPPED_FILE = "STOPPED.json"
CHECKPOINTS_DIR = "checkpoints"
TENSORBOARD_DIR = "tensorboard"
EXPORT_DIR = "export"
EMBEDDER_DIR = "embedder"
MODEL_INFO_FILE = "model_info.json"
EVAL_DIR = "eval"
LFW_VIEW2_FILE = "lfw_view2.json"


def run_dir_of(name: str, run_dir: str | os.PathLike | None) -> Path:
    """Where a config's run lives: its `run_dir` (relative to the repository unless absolute),
    else runs/<name>."""
    if run_dir is None:
        return RUNS_DIR / name
    path = Path(run_dir).expanduser()
    return path if path.is_absolute() else REPO_ROOT / path


@dataclass(frozen=True)
class RunLayout:
    """The paths of one run directory."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def labels(self) -> Path:
        return self.root / LABELS_FILE

    @property
    def file_list(self) -> Path:
        return self.root / FILE_LIST_FILE

    @property
    def log(self) -> Path:
        return self.root / LOG_FILE

    @property
    def git_state(self) -> Path:
        return self.root / GIT_STATE_FILE

    @property
    def git_diff(self) -> Path:
        return self.root / GIT_DIFF_FILE

    @property
    def done(self) -> Path:
        return self.root / DONE_FILE

    @property
    def stopped(self) -> Path:
        """Written when training stops on a non-finite loss: the step and train.py's message."""
        return self.root / STOPPED_FILE

    @property
    def checkpoints(self) -> Path:
        return self.root / CHECKPOINTS_DIR

    @property
    def tensorboard(self) -> Path:
        return self.root / TENSORBOARD_DIR

    @property
    def export(self) -> Path:
        return self.root / EXPORT_DIR

    @property
    def eval(self) -> Path:
        return self.root / EVAL_DIR

    @property
    def lfw_view2(self) -> Path:
        """eval_lfw.py's JSON on all of View 2, as experiments/run.py and demo.py ask for it."""
        return self.eval / LFW_VIEW2_FILE

    def eval_json(self, final: str) -> Path:
        """eval_lfw.py's JSON of a benchmark's final evaluation, by its final name
        (verification.benchmarks.final_name: `lfw_view2` for LFW View 2, else `<name>_final`)."""
        return self.eval / f"{final}.json"


def read_revision(run_dir: Path) -> str | None:
    """The code revision a run started from (git.txt), or None when it was not recorded."""
    path = RunLayout(run_dir).git_state
    if not path.is_file():
        return None
    first = path.read_text(errors="replace").partition("\n")[0]
    return first.removeprefix(GIT_REVISION_KEY).strip() if first.startswith(GIT_REVISION_KEY) else None


def write_labels(path: Path, identities: list[str]) -> None:
    """labels.txt (of a run dir or a TFRecord shard folder): one identity per line, index = label."""
    atomic_write_bytes(path, os.fsencode("".join(f"{name}\n" for name in identities)))


def read_labels(path: Path) -> list[str]:
    """The names as write_labels wrote them; a folder name that is not UTF-8 comes back as the
    same surrogate-escaped string the file system gave (os.fsdecode)."""
    return os.fsdecode(path.read_bytes()).splitlines()


@dataclass(frozen=True)
class ExportLocation:
    """Where an exported embedder's pieces are, whichever folder the user named."""

    saved_model: Path  # the SavedModel folder (holds saved_model.pb)
    model_info: Path  # model_info.json beside it (may be missing for a bare SavedModel)
    run_dir: Path | None  # the run it belongs to, when it is a run's export

    @property
    def export_dir(self) -> Path:
        """The folder holding the SavedModel and model_info.json (where .tflite files go)."""
        return self.saved_model.parent


def locate_export(path: str | os.PathLike) -> ExportLocation | None:
    """The export that `path` names: a run dir, its export/ folder, or a SavedModel folder (its
    model_info.json then beside it, in the parent). None when the folder holds none of them."""
    path = Path(path)
    for export_dir, run_dir in ((path / EXPORT_DIR, path), (path, None)):
        if (export_dir / EMBEDDER_DIR / "saved_model.pb").is_file():
            if run_dir is None and export_dir.name == EXPORT_DIR:
                run_dir = export_dir.parent
            return ExportLocation(export_dir / EMBEDDER_DIR, export_dir / MODEL_INFO_FILE, run_dir)
    if (path / "saved_model.pb").is_file():
        return ExportLocation(path, path.parent / MODEL_INFO_FILE, None)
    return None


EXPORT_FORMS = (
    f"a run dir (holding {EXPORT_DIR}/{EMBEDDER_DIR}/), a run's {EXPORT_DIR}/ folder "
    f"(holding {EMBEDDER_DIR}/) or a SavedModel folder (holding saved_model.pb)"
)


def require_export(path: str | os.PathLike) -> ExportLocation:
    """locate_export(path), or a one-line error saying what the folder should hold."""
    found = locate_export(path)
    if found is None:
        raise UserFileNotFoundError(f"no exported embedder at {path}: expected {EXPORT_FORMS}")
    return found
