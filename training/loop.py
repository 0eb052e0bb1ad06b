"""The training run: data, model, loss head, optimizer, checkpoints, summaries, checks, export.

`run_training(config)` is everything `train.py` does. It resumes from the run dir's latest
checkpoint, saves every `train.checkpoint_every_steps` and on SIGINT/SIGTERM, stops on a
non-finite loss without saving, and at the end exports the embedder (EMA weights when enabled).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import time
from pathlib import Path

import keras
import tensorflow as tf

from common.errors import UserError
from common.paths import REPO_ROOT, data_root
from common.run_layout import LABELS_FILE, RunLayout, run_dir_of, write_labels
from input_pipeline.train_data import build_train_dataset, cache_in_memory, next_batch, open_train_source
from training import run_dir as run_dirs
from training import summaries
from training.clock import CLOCK_NAME, UNKNOWN_TIME, TrainClock, checkpoint_has_clock
from training.collapse import CollapseWatch
from training.config import Config
from training.ema import WeightAverage
from training.optimizers import build_optimizer, decayed_variables
from training.preflight import check_before_run
from training.schedules import build_schedule
from training.step import TrainState, make_replica_step, make_train_step
from training.strategy import broadcast_from_chief, chief_value, make_strategy, set_precision, worker_role


class NonFiniteLossError(UserError, RuntimeError):
    """Training stopped on a NaN/Inf loss; the message names the step and the kept checkpoint."""


class WorkerLostError(UserError, RuntimeError):
    """A multi-worker run lost a worker (its collective ops failed); restart them all."""


def resolve(path: str, base: Path) -> Path:
    path = Path(path).expanduser()
    return path if path.is_absolute() else base / path


def make_logger(run_dir: Path) -> logging.Logger:
    logger = logging.getLogger(f"train.{run_dir}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    if not logger.handlers:
        formatter = logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S")
        for handler in (logging.FileHandler(RunLayout(run_dir).log), logging.StreamHandler()):
            handler.setFormatter(formatter)
            logger.addHandler(handler)
    return logger


class CheckInterrupted(Exception):
    """A stop signal arrived during the in-training LFW check, which is then abandoned."""


class StopSignals:
    """Turns SIGINT/SIGTERM into a flag checked between steps (checkpoint, then exit). During
    the LFW check (`interrupting`) the first signal abandons the check at once; a second signal
    anywhere raises KeyboardInterrupt, so a user who presses Ctrl-C twice is not kept waiting."""

    def __init__(self):
        self.received: int | None = None
        self._in_check = False

    @contextlib.contextmanager
    def interrupting(self):
        """Within the block the first signal raises CheckInterrupted."""
        self._in_check = True
        try:
            if self.received is not None:
                raise CheckInterrupted(self.received)
            yield
        finally:
            self._in_check = False

    @contextlib.contextmanager
    def installed(self):
        previous = {sig: signal.signal(sig, self._handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _handle(self, signum, frame):
        if self.received is not None:
            raise KeyboardInterrupt(f"second stop signal ({signum})")
        self.received = signum
        if self._in_check:
            raise CheckInterrupted(signum)


def open_source(config: Config):
    """(identities, TrainSource): the route of `data.format`, scanned once (paths from the repo root)."""
    data = config.data
    return open_train_source(
        data.format,
        data.image_size,
        train_dirs=[resolve(path, REPO_ROOT) for path in data.train_dirs],
        tfrecord_dir=resolve(data.tfrecord_dir, REPO_ROOT) if data.tfrecord_dir else None,
        min_images_per_identity=data.min_images_per_identity,
        namespace_by_root=data.namespace_by_root,
    )


def build_evaluator(config: Config, data_dir: Path, spec: str):
    """The evaluator of one `eval.targets` entry (its images loaded once)."""
    from verification import benchmarks
    from verification.lfw import BenchmarkEvaluator

    target = benchmarks.resolve_target(
        spec, data_dir, resolve(config.eval.lfw_dir, REPO_ROOT), resolve(config.eval.pairs, data_dir)
    )
    return BenchmarkEvaluator(
        benchmarks.load_target(target),
        tuple(config.data.image_size),
        folds=config.eval.folds,
        batch_size=config.eval.batch_size,
    )


def build_check_evaluators(config: Config, data_dir: Path) -> dict:
    """{benchmark name: evaluator} of every `eval.targets` entry; empty when the checks are off."""
    if config.eval.lfw_every_steps <= 0:
        return {}
    evaluators = (build_evaluator(config, data_dir, spec) for spec in config.eval.targets)
    return {evaluator.name: evaluator for evaluator in evaluators}


def build_model(config: Config):
    import models

    return models.build(config.model.name, **config.model_kwargs())


def float32_copy(config: Config, model):
    """The model rebuilt in float32 compute with the same weights: exports and final evaluations
    do not depend on the precision the run trained in."""
    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        copy = build_model(config)
    finally:
        keras.mixed_precision.set_global_policy(policy)
    copy.set_weights(model.get_weights())
    return copy


class Trainer:
    """Holds the built objects of one run and drives its steps."""

    def __init__(
        self,
        config: Config,
        run_dir: Path,
        data_dir: Path,
        logger: logging.Logger,
        strategy: tf.distribute.Strategy | None = None,
    ):
        import losses

        self.config, self.run_dir, self.log = config, run_dir, logger
        set_precision(config.train.precision)
        keras.utils.set_random_seed(config.seed)
        self.strategy = strategy or make_strategy(config.train.strategy)
        self.is_chief, self.worker, self.workers = worker_role(self.strategy)
        self.skipped = tf.Variable(0, dtype=tf.int64, trainable=False)
        with self.strategy.scope():
            self.state = TrainState()
            self.clock = TrainClock()
            self.model = build_model(config)
            self.identities, scanned = open_source(config)
            self.file_list = scanned.file_list  # as scanned (file_list.tsv), None for TFRecords
            self.loss_layer = losses.build(
                config.loss.name,
                num_classes=len(self.identities),
                embedding_size=config.model.embedding_size,
                **config.loss.hparams,
            )
            optimizer = build_optimizer(config.optimizer.name, config.optimizer.momentum)
            if config.train.precision == "float16":
                optimizer = keras.mixed_precision.LossScaleOptimizer(optimizer)
            self.optimizer = optimizer
            self.variables = self.model.trainable_variables + self.loss_layer.trainable_variables
            self.optimizer.build(self.variables)
            self.ema = WeightAverage(self.variables, config.train.ema_decay) if config.train.ema_decay > 0 else None
        self.decayed = decayed_variables(self.variables, config.optimizer.decay_exclude)
        self.schedule = build_schedule(config.optimizer.schedule, REPO_ROOT)
        replica_step = make_replica_step(
            self.model,
            self.loss_layer,
            self.optimizer,
            self.state,
            decayed_variables=self.decayed,
            weight_decay=config.optimizer.weight_decay,
            ema=self.ema,
        )
        self.train_step = make_train_step(
            self.strategy, replica_step, config.train.jit_compile, self.optimizer, self.schedule, self.state
        )
        self.tracked = {
            "model": self.model,
            "loss_layer": self.loss_layer,
            "optimizer": self.optimizer,
            "state": self.state,
            CLOCK_NAME: self.clock,
        }
        if self.ema is not None:
            self.tracked["ema"] = self.ema
        self.checkpoint = tf.train.Checkpoint(**self.tracked)
        self.manager = tf.train.CheckpointManager(
            self.checkpoint,
            str(RunLayout(run_dir).checkpoints),
            max_to_keep=config.train.keep_checkpoints,
            step_counter=self.state.step,
        )
        # Only the chief runs the checks (the other workers would compute the same numbers).
        self.checks = build_check_evaluators(config, data_dir) if self.is_chief else {}
        self.embed_fn = None  # traced at the first check, reused by the later ones
        self.source = cache_in_memory(
            scanned, config.data.cache, config.data.image_size, config.data.parallel_calls, logger.info
        )
        if self.source.decoded is not None:
            self.skipped.assign_add(len(self.source.decoded.skipped))

    def restore(self) -> int:
        """Restore the latest checkpoint if any; returns the step to continue from."""
        latest = self.manager.latest_checkpoint
        if latest:
            if checkpoint_has_clock(latest):
                self.checkpoint.restore(latest).assert_existing_objects_matched()
            else:  # written before the clock existed: everything else must still match
                untimed = {name: value for name, value in self.tracked.items() if name != CLOCK_NAME}
                tf.train.Checkpoint(**untimed).restore(latest).assert_existing_objects_matched()
                self.clock.seconds.assign(UNKNOWN_TIME)
            self.log.info(f"resumed from {latest} at step {self.state.current_step()}")
        if self.workers > 1:
            # Only the chief has the run dir's checkpoints: every worker takes its state.
            broadcast_from_chief(self.strategy, self.state_variables())
            if not self.is_chief:
                self.log.info(f"worker {self.worker}: took the chief's state at step {self.state.current_step()}")
        return self.state.current_step()

    def state_variables(self) -> list:
        """Every variable the checkpoint holds."""
        variables = self.model.variables + self.loss_layer.variables + self.optimizer.variables
        variables += [self.state.step, self.state.nonfinite_step, self.clock.seconds]
        return variables + (list(self.ema.shadows) if self.ema is not None else [])

    def make_dataset(self, start_step: int):
        # Seeding with the start step: a resumed run draws new batches instead of replaying.
        data = self.config.data
        needs_pk = bool(getattr(self.loss_layer, "needs_pk_batches", False))
        dataset = build_train_dataset(
            self.source,
            data.image_size,
            self.config.train.batch_size,
            seed=self.config.seed + start_step,
            pk=(data.pk_identities, data.pk_images) if needs_pk else None,
            random_flip=data.random_flip,
            parallel_calls=data.parallel_calls,
            shuffle_buffer=data.shuffle_buffer,
            skipped_counter=self.skipped,
        )
        return self.strategy.experimental_distribute_dataset(dataset)

    @contextlib.contextmanager
    def evaluation_weights(self):
        """EMA weights while evaluating/exporting when enabled, else the live weights."""
        with self.ema.swapped_in() if self.ema is not None else contextlib.nullcontext():
            yield

    def evaluate(self, name: str) -> dict:
        """The protocol summary of benchmark `name` (one of `checks`) with the current weights."""
        if self.embed_fn is None:
            from verification.embedding import compiled_embed_fn

            self.embed_fn = compiled_embed_fn(self.model, tuple(self.config.data.image_size))
        with self.evaluation_weights():
            return self.checks[name].evaluate(self.embed_fn, flip=self.config.eval.flip)

    def run_check(self, name: str, step: int) -> dict:
        """One in-training check of benchmark `name` (a key of `checks`): a point of its
        TensorBoard curve (inside the run's writer: `writer.as_default()`), its HParams check
        metric and a log line. Returns the protocol summary."""
        started = time.time()
        result = self.evaluate(name)
        config = self.config.eval
        summaries.write_check(
            self.run_dir,
            step,
            name,
            result,
            summaries.check_protocol(result, self.checks[name].pairs.source, config.folds, config.flip),
        )
        self.log.info(
            f"step {step} {name} check ({result['num_folds']} folds) accuracy "
            f"{result['accuracy_mean']:.4f} +- {result['accuracy_std']:.4f} VAL@FAR=1e-3 "
            f"{result['val_mean']:.4f} ({time.time() - started:.0f}s)"
        )
        return result

    def export(self) -> Path:
        import models

        info = {
            "config": self.config.to_dict(),
            "step": self.state.current_step(),
            # Relative to the export folder: no absolute (personal) path in a shared model.
            "ema": self.ema is not None,
            "labels_file": f"../{LABELS_FILE}",
        }
        with self.evaluation_weights():
            model = self.model if self.config.train.precision == "float32" else float32_copy(self.config, self.model)
            return models.export_embedder(
                model, RunLayout(self.run_dir).export, tuple(self.config.data.image_size), info
            )

    def check_finite(self) -> None:
        bad = self.state.first_nonfinite_step()
        if bad >= 0:
            kept = self.manager.latest_checkpoint or "none (no checkpoint was written yet)"
            # bad + 1: the log's numbering ("step N" = after N updates).
            message = (
                f"non-finite loss (NaN/Inf) at step {bad + 1}; training stopped, "
                f"the last good checkpoint is kept: {kept}{self._first_step_hint(bad)}"
            )
            if self.is_chief:
                run_dirs.mark_stopped(self.run_dir, bad + 1, message)
            raise NonFiniteLossError(message)

    def _first_step_hint(self, bad: int) -> str:
        """Non-finite before any update is not a diverging run: on a CPU in bfloat16 the likely cause
        is oneDNN's bfloat16 convolution going wrong for tiny feature maps (docs/benchmarks.md)."""
        if bad != 0 or self.config.train.precision != "bfloat16" or tf.config.list_physical_devices("GPU"):
            return ""
        return (
            "; the very first step in bfloat16 on a CPU: oneDNN's bfloat16 convolutions can be wrong "
            "for tiny feature maps on this CPU, train with train.precision=float32"
        )

    def save(self) -> None:
        self.check_finite()  # never save a state after a non-finite step
        self.clock.record()
        path = self.manager.save(checkpoint_number=self.state.current_step())
        self.log.info(f"checkpoint {path}")

    def train_until(self, last_step: int, writer) -> dict:
        """train.py's training loop from the current step to `last_step` (its new train.max_steps),
        with the logs, summaries, checkpoints and LFW checks the config asks for, into `writer`;
        returns the loop's summary (LFW result, minutes, steps)."""
        self.config.train.max_steps = last_step
        return _train(self, writer, self.state.current_step())


def _first_local(value):
    """The first replica's tensor of a (possibly) distributed value."""
    local = getattr(value, "values", None)
    return local[0] if local else value


def run_training(config: Config, overwrite: bool = False, data_dir: str | None = None) -> dict:
    """Train (or resume) the run of `config`; returns the summary also written to DONE.json.

    Under `multi_worker` only the chief writes the run dir; every other worker writes into a
    scratch dir of its own that is removed at the end (training.run_dir.worker_dir).
    """
    run_dir = run_dir_of(config.name, config.run_dir)
    # First: MultiWorkerMirroredStrategy must exist before other TensorFlow work.
    strategy = make_strategy(config.train.strategy)
    # Before the run dir exists: a typo leaves nothing behind.
    check_before_run(config, REPO_ROOT, strategy.num_replicas_in_sync)
    is_chief, worker, workers = worker_role(strategy)
    with run_dirs.one_writer(run_dir, is_chief), run_dirs.worker_dir(run_dir, is_chief, worker) as own_dir:
        if not is_chief:
            print(
                f"worker {worker} of {workers}: the chief writes {run_dir}; this worker's files go to "
                f"{own_dir} (removed at the end)",
                flush=True,
            )
        try:
            return _run_in(config, own_dir, strategy, overwrite, data_dir)
        except (tf.errors.UnavailableError, tf.errors.CancelledError, tf.errors.DeadlineExceededError) as error:
            if workers == 1:
                raise
            lines = [line.strip() for line in (error.message or "").splitlines() if line.strip()]
            reason = next((line for line in lines if "aborted by" in line), None) or next(
                (line for line in lines if "error:" not in line.lower()), type(error).__name__
            )
            raise WorkerLostError(
                f"worker {worker} of {workers} lost the others ({reason}); restart every worker "
                f"with the same command: they resume from the chief's last checkpoint"
            ) from None


RUN_STATUSES = ("new", "resume", "finished", "refused")


def _agreed_status(config: Config, run_dir: Path, strategy, overwrite: bool) -> str:
    """prepare() the run dir; under several workers the chief's outcome decides for all."""
    refusal = None
    try:
        status = run_dirs.prepare(config, run_dir, overwrite)
    except run_dirs.RunDirError as error:
        status, refusal = "refused", error
    chief_status = RUN_STATUSES[chief_value(strategy, RUN_STATUSES.index(status))]
    if refusal is not None:
        raise refusal
    if chief_status == "refused":
        raise run_dirs.RunDirError("the chief worker refused the run dir (its log says why)")
    return "finished" if chief_status == "finished" else status


def _run_in(config: Config, run_dir: Path, strategy, overwrite: bool, data_dir: str | None) -> dict:
    status = _agreed_status(config, run_dir, strategy, overwrite)
    logger = make_logger(run_dir)
    if status == "finished":
        logger.info(f"{run_dir} already finished (DONE.json); nothing to do. Use --overwrite to retrain.")
        return {"status": "finished", "run_dir": str(run_dir)}
    trainer = Trainer(config, run_dir, data_root(data_dir), logger, strategy=strategy)
    if status == "new":
        write_labels(RunLayout(run_dir).labels, trainer.identities)
        if trainer.file_list is not None:
            trainer.file_list.save(RunLayout(run_dir).file_list)
    else:
        run_dirs.check_labels(run_dir, trainer.identities)
    trainer.restore()
    writer = tf.summary.create_file_writer(str(summaries.tensorboard_dir(run_dir)))
    summaries.write_hparams(config, run_dir)
    result = trainer.train_until(config.train.max_steps, writer)
    summary = {
        "status": "done",
        "run_dir": str(run_dir),
        "steps": trainer.state.current_step(),
        "skipped_images": int(trainer.skipped),
        **result,
    }
    writer.flush()
    summary["export"] = str(trainer.export())
    run_dirs.mark_done(run_dir, summary)
    logger.info(f"done: {summary}")
    return summary


def _guarded_checks(trainer: Trainer, step: int, signals: StopSignals | None = None) -> dict:
    """Every target's in-training check (Trainer.run_check) that completes: {name: protocol
    summary}. A check that fails goes to the log with its traceback and is skipped: the checkpoint
    due at this step and the training go on, a side check must not cost the run. A stop signal
    abandons the checks left."""
    results = {}
    try:
        with signals.interrupting() if signals else contextlib.nullcontext():
            for name in trainer.checks:
                try:
                    results[name] = trainer.run_check(name, step)
                except CheckInterrupted:
                    raise
                except Exception:  # noqa: BLE001 -- logged with its traceback; training must go on
                    trainer.log.exception(f"step {step} {name} check failed; training goes on without it")
    except CheckInterrupted:
        trainer.log.info(f"step {step} checks abandoned: stop signal received")
    return results


@contextlib.contextmanager
def saved_on_second_signal(trainer: Trainer, signals: StopSignals):
    """A second stop signal (KeyboardInterrupt) ends the run at once, after one last checkpoint
    when the state is finite; a third signal during that save ends it without one."""
    try:
        yield
    except KeyboardInterrupt:
        if signals.received is None:  # not ours: a Ctrl-C with no handler installed
            raise
        try:
            trainer.save()
        except (KeyboardInterrupt, NonFiniteLossError) as error:
            trainer.log.info(f"no final checkpoint ({type(error).__name__})")
        trainer.log.info(f"second signal received: stopping now (signal {signals.received})")
        raise SystemExit(128 + signals.received) from None


def _train(trainer: Trainer, writer, start: int) -> dict:
    config, log = trainer.config, trainer.log
    train, every = config.train, config.summaries
    if start >= train.max_steps:
        log.info(f"checkpoint is at step {start} >= max_steps {train.max_steps}; finishing")
    iterator = iter(trainer.make_dataset(start))
    signals = StopSignals()
    collapse = CollapseWatch(log)
    checked = None
    window_start, window_steps = time.time(), 0
    trainer.clock.start()
    step = start
    with signals.installed(), writer.as_default(), saved_on_second_signal(trainer, signals):
        while step < train.max_steps:
            images, labels = next_batch(iterator, trainer.source)
            stats = trainer.train_step(images, labels)
            step += 1
            window_steps += 1
            if step % train.log_every_steps == 0 or step == train.max_steps:
                trainer.check_finite()
                values = {name: float(value) for name, value in stats.items()}
                elapsed = time.time() - window_start
                values["steps_per_sec"] = window_steps / elapsed
                values["images_per_sec"] = window_steps * train.batch_size / elapsed
                values["skipped_images"] = int(trainer.skipped)
                summaries.write_scalars(values, step, prefix="train/")
                eta = (train.max_steps - step) / max(values["steps_per_sec"], 1e-9)
                log.info(
                    f"step {step}/{train.max_steps} loss {values['total_loss']:.4f} "
                    f"acc {values.get('batch_accuracy', float('nan')):.3f} "
                    f"lr {values['learning_rate']:.2e} {values['images_per_sec']:.1f} img/s "
                    f"ETA {eta / 60:.1f} min"
                )
                window_start, window_steps = time.time(), 0
                collapse.add(step, values["loss"])
            extras_started = time.time()
            if every.images_every_steps > 0 and step % every.images_every_steps == 0:
                summaries.write_images(_first_local(images), step, every.max_images)
            if every.histogram_every_steps > 0 and step % every.histogram_every_steps == 0:
                summaries.write_histograms(trainer.variables, step)
            if config.eval.lfw_every_steps > 0 and step % config.eval.lfw_every_steps == 0:
                checked = _guarded_checks(trainer, step, signals) or checked
            if step % train.checkpoint_every_steps == 0:
                trainer.save()
            window_start += time.time() - extras_started  # steps/s counts training steps only
            if signals.received is not None:
                trainer.save()
                log.info(f"signal {signals.received} received: checkpoint saved at step {step}, stopping")
                raise SystemExit(128 + signals.received)
    trainer.check_finite()
    if trainer.manager.latest_checkpoint is None or int(trainer.manager.latest_checkpoint.rsplit("-", 1)[1]) != step:
        trainer.save()
    if trainer.checks and (checked is None or step % config.eval.lfw_every_steps != 0):
        with writer.as_default():
            checked = _guarded_checks(trainer, step) or checked
    minutes = trainer.clock.session_seconds() / 60
    log.info(f"trained {step - start} steps in {minutes:.1f} min")
    # LFW checks included. train_minutes: this command's steps, the whole run unless it was resumed;
    # total_train_minutes: every session's (None when one before the clock existed was resumed).
    total = trainer.clock.total_seconds()
    return {
        "lfw": (checked or {}).get("lfw"),
        "checks": checked,
        "train_minutes": round(minutes, 2),
        "steps_this_session": step - start,
        "total_train_minutes": None if total is None else round(total / 60, 2),
    }
