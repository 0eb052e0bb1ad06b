"""Run directories: resolved config, git state, label map; resume / finished / conflict rules.

Rerunning the same command resumes (or starts afresh when no checkpoint was saved yet); a
finished run (DONE.json) is left alone; raising only
train.max_steps extends a run from its last checkpoint (the old DONE.json, export/ and eval/ are
kept as DONE.step<N>.json, export.step<N>, eval.step<N>); changing only how the run is spread
over devices (train.strategy: a checkpoint of 2 replicas resumes on 1 and back) is allowed; any
other config difference is an error unless `overwrite`, which moves the old dir aside (nothing
produced is lost).
"""

from __future__ import annotations

import contextlib
import datetime
import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml

from common.atomic_files import atomic_write_json, atomic_write_text
from common.dir_lock import exclusive_folder
from common.errors import UserError
from common.paths import REPO_ROOT
from common.run_layout import (
    CONFIG_FILE,
    DONE_FILE,
    EVAL_DIR,
    EXPORT_DIR,
    GIT_REVISION_KEY,
    LOG_FILE,
    STOPPED_FILE,
    RunLayout,
    read_labels,
)
from training.config import Config, save_config

# Keys a resumed run may change: they decide where the steps run, not what they compute.
PLACEMENT_KEYS = ("strategy",)


class RunDirError(UserError, RuntimeError):
    """The run directory holds a run that this command must not continue or replace."""


def _normalised(mapping: dict) -> dict:
    return yaml.safe_load(yaml.safe_dump(mapping))


def _first_difference(old, new, prefix="") -> str | None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            found = _first_difference(old.get(key), new.get(key), f"{prefix}{key}.")
            if found:
                return found
        return None
    return None if old == new else f"{prefix.rstrip('.')}: {old!r} -> {new!r}"


def prepare(config: Config, run_dir: Path, overwrite: bool = False) -> str:
    """Create or check `run_dir`; returns "new", "resume" or "finished"."""
    config_path = run_dir / CONFIG_FILE
    if run_dir.exists() and overwrite and any(run_dir.iterdir()):
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        aside = run_dir.with_name(f"{run_dir.name}.replaced-{stamp}")
        run_dir.rename(aside)
    if config_path.exists():
        with open(config_path) as handle:
            saved = _normalised(yaml.safe_load(handle))
        new = _normalised(config.to_dict())
        moved = _placement_of(saved) != _placement_of(new)
        saved = {**saved, "train": {**saved.get("train", {}), **_placement_of(new)}}
        started = has_checkpoint(run_dir) or (run_dir / DONE_FILE).exists()
        if _extends(saved, new) and started:
            _keep_finished_outputs(run_dir, saved["train"]["max_steps"])
            save_config(config, config_path)
            return "resume"
        difference = None if _extends(saved, new) else _first_difference(saved, new)
        if difference:
            raise RunDirError(
                f"{run_dir} holds a run with a different config ({difference}); "
                "use another name or pass --overwrite (the old run is moved aside)"
            )
        if (run_dir / DONE_FILE).exists():
            return "finished"
        if not started:  # stopped during start-up: nothing to resume from
            return _start(config, run_dir)
        if moved:
            save_config(config, config_path)
        return "resume"
    if run_dir.exists() and any(p.name != LOG_FILE for p in run_dir.iterdir()):
        raise RunDirError(f"{run_dir} is not empty and has no {CONFIG_FILE}; refusing to write into it")
    run_dir.mkdir(parents=True, exist_ok=True)
    return _start(config, run_dir)


def _start(config: Config, run_dir: Path) -> str:
    """A fresh start in `run_dir`: its config and git state (rewritten: the labels and the file
    list of an earlier start that never reached a checkpoint are rewritten after this too)."""
    save_config(config, run_dir / CONFIG_FILE)
    record_git_state(run_dir)
    return "new"


def has_checkpoint(run_dir: Path) -> bool:
    """Whether the run saved a checkpoint (tf.train.CheckpointManager's index file)."""
    return (RunLayout(run_dir).checkpoints / "checkpoint").is_file()


def one_writer(run_dir: Path, is_chief: bool):
    """The run dir's lock (common/dir_lock.py), held by the chief for the whole run; a second
    train.py on the same run dir is refused in one line naming the holder."""
    return exclusive_folder(run_dir, "the run dir") if is_chief else contextlib.nullcontext()


def _placement_of(config: dict) -> dict:
    train = config.get("train", {})
    return {key: train.get(key) for key in PLACEMENT_KEYS}


def _extends(saved: dict, new: dict) -> bool:
    """True when `new` differs from `saved` only by a larger train.max_steps."""
    old_steps, new_steps = saved.get("train", {}).get("max_steps"), new["train"]["max_steps"]
    if not isinstance(old_steps, int) or new_steps <= old_steps:
        return False
    return _first_difference(saved, {**new, "train": {**new["train"], "max_steps": old_steps}}) is None


def _keep_finished_outputs(run_dir: Path, old_steps: int) -> None:
    """Before extending: the finished run's record, exported model and evaluations move to
    <name>.step<N> so the longer run neither overwrites them nor is mistaken for them."""
    for name in (DONE_FILE, EXPORT_DIR, EVAL_DIR):
        path = run_dir / name
        if path.exists():
            path.rename(run_dir / f"{Path(name).stem}.step{old_steps}{Path(name).suffix}")


@contextlib.contextmanager
def worker_dir(run_dir: Path, is_chief: bool, worker: int):
    """Where this worker writes: the run dir for the chief; for every other worker of a
    multi-worker run a fresh scratch dir outside it (system temp dir), removed afterwards. The
    non-chief workers save checkpoints and the export there as well, because TensorFlow wants
    every worker to take part in saving; nothing of theirs is kept or read back (after a restart
    they take the chief's state, training.strategy.broadcast_from_chief)."""
    if is_chief:
        yield run_dir
        return
    scratch = Path(tempfile.mkdtemp(prefix=f"{run_dir.name}.worker{worker}-"))
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def record_git_state(run_dir: Path) -> None:
    """`git.txt` (revision and status) and `git.diff` (uncommitted changes to tracked files)."""

    def git(*args):
        try:
            return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.SubprocessError) as error:
            return f"unavailable: {error}\n"

    layout = RunLayout(run_dir)
    atomic_write_text(
        layout.git_state,
        f"{GIT_REVISION_KEY} {git('rev-parse', 'HEAD').strip()}\nstatus:\n{git('status', '--porcelain')}",
    )
    atomic_write_text(layout.git_diff, git("diff", "HEAD"))


def check_labels(run_dir: Path, identities: list[str]) -> None:
    """On resume the label map must be the one the checkpoint was trained with."""
    labels = RunLayout(run_dir).labels
    saved = read_labels(labels)
    if saved != identities:
        raise RunDirError(
            f"{labels} differs from the identities now in the "
            f"training data ({len(saved)} saved vs {len(identities)} now); cannot resume"
        )


def mark_done(run_dir: Path, summary: dict) -> None:
    atomic_write_json(run_dir / DONE_FILE, summary)
    (run_dir / STOPPED_FILE).unlink(missing_ok=True)


def mark_stopped(run_dir: Path, step: int, message: str) -> None:
    """STOPPED.json: training stopped on a non-finite loss at `step` (what the tables read)."""
    atomic_write_json(
        run_dir / STOPPED_FILE, {"status": "stopped", "reason": "non-finite loss", "step": step, "message": message}
    )
