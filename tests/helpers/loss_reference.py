"""NumPy references for the loss tests, written from the papers' formulas with plain loops.

They share no code with losses/: angles come from arccos (losses/ uses Chebyshev polynomials),
mining is done pair by pair. tests/test_helpers_loss_reference.py pins them to hand-worked values.
"""

from __future__ import annotations

import math

import numpy as np


def tf_loss_and_gradients(layer, x: np.ndarray, labels, *extra_variables, **call_kwargs):
    """The layer's loss and d loss / d (x, *extra_variables) by tf.GradientTape, as NumPy."""
    import tensorflow as tf

    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = layer(x, tf.constant(labels), **call_kwargs)["loss"]
    grads = tape.gradient(loss, [x, *extra_variables])
    return float(loss), [g.numpy() for g in grads]


def numerical_gradient(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central finite differences of the scalar function f at x (float64)."""
    grad = np.zeros_like(x, dtype=np.float64)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x, dtype=np.float64)
        step[index] = h
        grad[index] = (f(x + step) - f(x - step)) / (2 * h)
    return grad


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    losses = []
    for row, label in zip(logits, labels, strict=True):
        top = row.max()
        losses.append(top + math.log(np.exp(row - top).sum()) - row[label])
    return float(np.mean(losses))


def unit(v: np.ndarray, axis: int = -1) -> np.ndarray:
    return v / np.linalg.norm(v, axis=axis, keepdims=True)


def cosines(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return unit(x) @ unit(w, axis=0)


# --- target logits (without scale), as functions of the angle theta in radians ---------------


def arcface_target(theta: float, m: float, easy_margin: bool = False) -> float:
    if easy_margin:
        return math.cos(theta + m) if math.cos(theta) > 0 else math.cos(theta)
    if theta + m <= math.pi:
        return math.cos(theta + m)
    return math.cos(theta) - m * math.sin(m)  # past pi - m: the references' linear continuation


def sphereface_psi(theta: float, m: int) -> float:
    k = min(int(math.floor(theta * m / math.pi)), m - 1)
    return (-1) ** k * math.cos(m * theta) - 2 * k


def sphereface_lambda(step: int, base=1000.0, gamma=0.12, power=1.0, lambda_min=5.0) -> float:
    return max(lambda_min, base * (1 + gamma * step) ** (-power))


def sphereface_target(theta: float, m: int, lam: float) -> float:
    return (lam * math.cos(theta) + sphereface_psi(theta, m)) / (1 + lam)


def margin_head_loss(x, w, labels, target_fn, scale_fn) -> float:
    """Cross-entropy of scale * cos with the target cos replaced by target_fn(theta_target).

    scale_fn(x, w) gives a [B, C] array of per-logit scales."""
    cos = cosines(x, w)
    scales = scale_fn(x, w)
    logits = scales * cos
    for i, label in enumerate(labels):
        theta = math.acos(np.clip(cos[i, label], -1, 1))
        logits[i, label] = scales[i, label] * target_fn(theta)
    return cross_entropy(logits, labels)


# --- metric losses ---------------------------------------------------------------------------


def distance_matrix(x: np.ndarray) -> np.ndarray:
    b = len(x)
    return np.array([[np.linalg.norm(x[i] - x[j]) for j in range(b)] for i in range(b)])


def contrastive(x, labels, margin) -> float:
    d = distance_matrix(x)
    terms = []
    for i in range(len(x)):
        for j in range(i + 1, len(x)):
            if labels[i] == labels[j]:
                terms.append(0.5 * d[i, j] ** 2)
            else:
                terms.append(0.5 * max(0.0, margin - d[i, j]) ** 2)
    return float(np.mean(terms))


def semi_hard_triplet(x, labels, margin, fallback="easiest") -> float:
    """FaceNet: for every (a, p), the closest negative with d(a,n) > d(a,p); where there is none,
    the farthest negative (``easiest``, FaceNet's TF code) or the closest (``hardest``)."""
    d2 = distance_matrix(unit(x)) ** 2
    pick = {"easiest": max, "hardest": min}[fallback]
    terms = []
    for a in range(len(x)):
        negatives = [n for n in range(len(x)) if labels[n] != labels[a]]
        if not negatives:
            continue
        for p in range(len(x)):
            if p == a or labels[p] != labels[a]:
                continue
            farther = [n for n in negatives if d2[a, n] > d2[a, p]]
            n = min(farther, key=lambda k: d2[a, k]) if farther else pick(negatives, key=lambda k: d2[a, k])
            terms.append(max(0.0, d2[a, p] - d2[a, n] + margin))
    return float(np.mean(terms))


def batch_hard_triplet(x, labels, margin, soft=False, squared=False) -> float:
    d = distance_matrix(x) ** 2 if squared else distance_matrix(x)
    terms = []
    for a in range(len(x)):
        positives = [d[a, p] for p in range(len(x)) if p != a and labels[p] == labels[a]]
        negatives = [d[a, n] for n in range(len(x)) if labels[n] != labels[a]]
        if not positives or not negatives:
            continue
        gap = max(positives) - min(negatives)
        terms.append(math.log1p(math.exp(gap)) if soft else max(0.0, gap + margin))
    return float(np.mean(terms))


def margin_loss(x, labels, negative_index, alpha, beta_of_anchor, nu=0.0) -> float:
    """Wu et al.: sum of [alpha + D - beta]+ over positive pairs and [alpha - (D - beta)]+ over
    their sampled negatives, plus nu * sum(beta), over the number of non-zero terms."""
    d = distance_matrix(unit(x))
    total, active, beta_sum = 0.0, 0, 0.0
    for a in range(len(x)):
        if all(labels[n] == labels[a] for n in range(len(x))):
            continue
        beta = beta_of_anchor[a]
        for p in range(len(x)):
            if p == a or labels[p] != labels[a]:
                continue
            n = negative_index[a][p]
            pos = max(0.0, alpha + d[a, p] - beta)
            neg = max(0.0, alpha - (d[a, n] - beta))
            total += pos + neg
            active += int(pos > 0) + int(neg > 0)  # int: numpy bools add as logical or
            beta_sum += beta
    return (total + nu * beta_sum) / max(active, 1)


def distance_weight(d: float, n: int, cutoff=0.5) -> float:
    """1 / q(d), q(d) = d^(n-2) (1 - d^2/4)^((n-3)/2), d clipped below at cutoff (unnormalised)."""
    d = max(d, cutoff)
    return d ** (2 - n) * (1 - d * d / 4) ** (-(n - 3) / 2)
