"""Plain softmax: a fully connected layer with bias, then cross-entropy."""

from __future__ import annotations

import tensorflow as tf

from losses.base import ClassificationHead, sparse_cross_entropy


class SoftmaxLoss(ClassificationHead):
    """logits = x W + b on the raw embedding; loss = mean cross-entropy."""

    def __init__(self, num_classes: int, embedding_size: int, **kwargs):
        super().__init__(num_classes, embedding_size, **kwargs)
        self.bias = self.add_weight(shape=(self.num_classes,), initializer="zeros", name="bias")

    def logits_of(self, embeddings: tf.Tensor) -> tf.Tensor:
        return tf.matmul(embeddings, self.kernel) + self.bias

    def compute(self, embeddings, labels, step, training):
        logits = self.logits_of(embeddings)
        return {"loss": sparse_cross_entropy(labels, logits), "logits": logits}
