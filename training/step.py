"""The compiled training step: forward in train mode, loss + L2 weight decay, guarded update.

A non-finite loss or gradient records the step in `state.nonfinite_step`, so the loop can stop and
keep the last good checkpoint (it never saves after such a step). On one device the update is also
skipped (weights, optimizer, EMA and step stay as they were); under a multi-replica strategy it is
applied anyway, because TF cannot put the optimizer's cross-replica sync inside a tf.cond.
The BN flag is a tf.bool tensor (one traced graph, docs/design.md).

Batch norm under several replicas (measured, tests/test_train_distributed.py): each replica
normalises with the statistics of its own share of the global batch (batch / replicas images);
BN is not synchronised across replicas (Keras' default). Keras 3 creates the moving mean/variance
as mirrored variables without aggregation, and such a variable assigned in replica context
updates only that replica's copy: left alone, the copies drift apart (each follows its own shard)
and a checkpoint keeps replica 0's. So after the forward pass every replica sets its copies to the
mean over replicas (one all-reduce per step): the moving statistics are the moving average of the
replica-averaged batch statistics, identical on every replica and worker. With equal shards the
moving mean is what one device would get; the moving variance is the mean of the per-replica
variances, a little below the global-batch variance.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from training import summaries
from training.optimizers import l2_penalty


class TrainState(tf.Module):
    """Everything a checkpoint holds besides model, head and optimizer: step and failure mark."""

    def __init__(self):
        super().__init__(name="train_state")
        # ONLY_FIRST_REPLICA: every replica holds the same value, so replicas may update them.
        first = tf.VariableAggregation.ONLY_FIRST_REPLICA
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step", aggregation=first)
        self.nonfinite_step = tf.Variable(-1, dtype=tf.int64, trainable=False, name="nonfinite_step", aggregation=first)

    def current_step(self) -> int:
        """The step as a Python int (works for mirrored variables too)."""
        return int(self.step.numpy())

    def first_nonfinite_step(self) -> int:
        """Index of the first non-finite step, -1 if none."""
        return int(self.nonfinite_step.numpy())


def replica_updated_statistics(model) -> list:
    """The model's variables that the forward pass updates in replica context without an
    aggregation (the BN moving mean/variance): float, non-trainable, aggregation none. The seed
    generators' integer states are left out (every replica advances them identically)."""
    return [v for v in model.non_trainable_variables if v.dtype.startswith("float") and v.aggregation == "none"]


def make_replica_step(
    model, loss_layer, optimizer, state: TrainState, *, decayed_variables, weight_decay: float, ema=None
):
    """Per-replica step(images, labels) -> dict of batch statistics (not yet reduced): the loss and
    its parts, the head's own `diagnostics`, and what every run logs (rates, norms, accuracy)."""
    variables = model.trainable_variables + loss_layer.trainable_variables
    statistics = replica_updated_statistics(model)
    scaled_optimizer = isinstance(optimizer, keras.mixed_precision.LossScaleOptimizer)
    training = tf.constant(True)

    def replica_step(images, labels):
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as tape:
            embeddings = tf.cast(model(images, training=training), tf.float32)
            outputs = loss_layer(embeddings, labels, step=state.step, training=training)
            decay = l2_penalty(decayed_variables, weight_decay)
            total = outputs["loss"] + decay
            # Each replica's loss is a mean over its own batch: divide so the summed gradient
            # is the gradient of the global-batch mean.
            objective = total / replicas
            if scaled_optimizer:
                objective = optimizer.scale_loss(objective)
        gradients = tape.gradient(objective, variables)
        finite = tf.logical_and(tf.math.is_finite(total), tf.math.is_finite(tf.linalg.global_norm(gradients)))
        context = tf.distribute.get_replica_context()
        if replicas > 1 and statistics:
            # Reads the local copies (updated by this replica's forward pass), writes the mean.
            averaged = context.all_reduce("mean", [tf.identity(v.value) for v in statistics])
            for variable, value in zip(statistics, averaged, strict=True):
                variable.assign(value)
        bad_replicas = context.all_reduce("sum", 1 - tf.cast(finite, tf.int32))
        learning_rate = tf.identity(optimizer.learning_rate)

        def update():
            optimizer.apply_gradients(zip(gradients, variables, strict=True))
            if ema is not None:
                ema.update(state.step)
            state.step.assign_add(1)
            return tf.constant(True)

        # Unconditional assign (no tf.cond): replicas may not sync inside control flow.
        first_failure = tf.logical_and(bad_replicas > 0, state.nonfinite_step < 0)
        state.nonfinite_step.assign(tf.where(first_failure, state.step, state.nonfinite_step))
        if tf.distribute.has_strategy():
            update()
        else:
            tf.cond(bad_replicas == 0, update, lambda: tf.constant(False))
        stats = {
            name: tf.cast(value, tf.float32)
            for name, value in outputs.items()
            if name != "logits" and value.shape.rank == 0
        }
        stats.update(
            {name: tf.cast(value, tf.float32) for name, value in loss_layer.diagnostics(embeddings, labels).items()}
        )
        stats.update(
            {
                "total_loss": total,
                "weight_decay_loss": decay,
                "learning_rate": learning_rate,
                "embedding_norm": summaries.mean_embedding_norm(embeddings),
            }
        )
        if "logits" in outputs:
            stats["batch_accuracy"] = summaries.batch_accuracy(outputs["logits"], labels)
        return stats

    return replica_step


def make_train_step(
    strategy: tf.distribute.Strategy, replica_step, jit_compile: bool, optimizer, schedule, state: TrainState
):
    """Compiled global step over a distributed batch; statistics are averaged over replicas."""
    # XLA compiles the replica computation; the cross-replica wrapper stays a plain tf.function.
    compiled_replica_step = tf.function(replica_step, jit_compile=jit_compile) if jit_compile else replica_step

    @tf.function
    def train_step(images, labels):
        # The rate is set in cross-replica context, where assigning a mirrored variable is allowed.
        optimizer.learning_rate.assign(schedule(state.step))
        per_replica = strategy.run(compiled_replica_step, args=(images, labels))
        return {name: strategy.reduce("mean", value, axis=None) for name, value in per_replica.items()}

    return train_step
