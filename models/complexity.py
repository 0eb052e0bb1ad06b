"""Parameter and multiply-add counts, computed analytically from each layer's shapes.

MACs per image: conv k_h*k_w*c_in*c_out*H_out*W_out, depthwise k_h*k_w*c*H_out*W_out (times the
depth multiplier), dense in*out. BN, activations, pooling and additions are not counted, as in
the papers' figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras


@dataclass(frozen=True)
class LayerCost:
    name: str
    kind: str
    parameters: int
    macs: int


def layer_costs(model: keras.Model) -> list[LayerCost]:
    """One row per layer of a functional model, with its parameters and MACs per image."""
    rows = []
    for layer in model.layers:
        parameters = sum(math.prod(w.shape) for w in layer.weights)
        rows.append(LayerCost(layer.name, type(layer).__name__, parameters, _macs(layer)))
    return rows


def count_parameters(model: keras.Model) -> dict[str, int]:
    """Trainable, non-trainable (BN moving statistics) and total parameter counts."""
    trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
    non_trainable = sum(math.prod(w.shape) for w in model.non_trainable_weights)
    return {"trainable": trainable, "non_trainable": non_trainable, "total": trainable + non_trainable}


def count_macs(model: keras.Model) -> int:
    """Multiply-adds per image."""
    return sum(row.macs for row in layer_costs(model))


def _macs(layer) -> int:
    # Spatial positions (or other leading axes) the kernel is applied at, batch axis excluded.
    # Conv kernels are (k_h, k_w, c_in, c_out); depthwise kernels (k_h, k_w, c, multiplier).
    if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)):
        return math.prod(layer.kernel.shape) * math.prod(layer.output.shape[1:3])
    if isinstance(layer, keras.layers.Dense):
        return math.prod(layer.kernel.shape) * math.prod(layer.output.shape[1:-1])
    return 0


def format_summary(model: keras.Model, per_layer: bool = False) -> str:
    """Human-readable totals (3 significant figures: '22.7 M', '1.75 G'), optionally per layer."""
    params = count_parameters(model)
    macs = count_macs(model)
    lines = []
    if per_layer:
        lines.append(f"{'layer':<32} {'kind':<24} {'params':>12} {'MACs':>15}")
        lines += [
            f"{r.name:<32} {r.kind:<24} {r.parameters:>12,} {r.macs:>15,}"
            for r in layer_costs(model)
            if r.parameters or r.macs
        ]
    input_shape = "x".join(str(d) for d in model.input_shape[1:3])
    lines += [
        f"model: {model.name}  input: {input_shape}x3  embedding: {model.output_shape[-1]}",
        f"parameters: {params['total'] / 1e6:.3g} M ({params['total']:,}; trainable "
        f"{params['trainable']:,}, BN moving statistics {params['non_trainable']:,})",
        f"multiply-adds per image: {macs / 1e9:.3g} G ({macs:,})",
    ]
    return "\n".join(lines)
