"""Which losses the figure shows, with hyperparameters adapted to 2-D and 3-D features.

The face-recognition defaults (AM-softmax s = 30, m = 0.35; ArcFace s = 64, m = 0.5) assume a
512-d embedding. With 10 classes in 2-D, neighbouring class centres are at best 36 degrees apart
(cos 36 = 0.81): a cosine margin of 0.35 cannot be met even by perfectly compact classes
(1 - 0.35 < 0.81), and an angular margin of 0.5 rad (29 degrees) would leave each class 7 degrees
of spread, so both use smaller margins and scales here. On the 3-D
sphere ten centres can be about 66 degrees apart (the Tammes bound), which leaves more room.
SphereFace's lambda schedule is compressed so lambda reaches its floor within a few hundred steps
(the Caffe schedule, gamma 0.12, needs ~1,700 steps; the whole run here is a few hundred).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from common.errors import UserValueError


@dataclass(frozen=True)
class LossSpec:
    """One panel of the figure: a registry loss and its hyperparameters per feature size."""

    key: str  # short identifier used on the command line and in file names
    loss_name: str  # name in losses.LOSSES
    hparams_by_dim: dict[int, dict] = field(default_factory=dict)

    def hparams(self, feature_dim: int) -> dict:
        return dict(self.hparams_by_dim.get(feature_dim, {}))

    def title(self, feature_dim: int) -> str:
        """Panel title naming the loss and every hyperparameter set for this feature size."""
        values = ", ".join(
            f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}"
            for name, value in self.hparams(feature_dim).items()
        )
        return f"{self.key} ({values})" if values else self.key


# Compressed SphereFace annealing: lambda = max(lambda_min, 1000 / (1 + gamma * step)) hits 5 at
# step ~200 with gamma = 1.
_SPHEREFACE_SCHEDULE = {"lambda_base": 1000.0, "lambda_gamma": 1.0, "lambda_min": 5.0}

FIGURE_LOSSES: tuple[LossSpec, ...] = (
    LossSpec("softmax", "softmax"),
    # m = 1: psi(theta) = cos(theta), i.e. the "modified softmax" (normalised weights, no bias,
    # logit ||x|| cos): SphereFace without the margin, so lambda is irrelevant.
    LossSpec("sphereface_m1", "sphereface", {2: {"margin": 1}, 3: {"margin": 1}}),
    LossSpec(
        "sphereface_m4",
        "sphereface",
        {2: {"margin": 4, **_SPHEREFACE_SCHEDULE}, 3: {"margin": 4, **_SPHEREFACE_SCHEDULE}},
    ),
    LossSpec(
        "normface",
        "normface",
        {2: {"scale": 10.0, "learnable_scale": True}, 3: {"scale": 10.0, "learnable_scale": True}},
    ),
    LossSpec("am_softmax", "am_softmax", {2: {"scale": 10.0, "margin": 0.1}, 3: {"scale": 15.0, "margin": 0.25}}),
    LossSpec("arcface", "arcface", {2: {"scale": 10.0, "margin": 0.15}, 3: {"scale": 15.0, "margin": 0.3}}),
)


def select(keys: list[str] | None) -> list[LossSpec]:
    """The specs named in `keys` (all when None), in figure order; unknown keys are an error."""
    if not keys:
        return list(FIGURE_LOSSES)
    known = {spec.key: spec for spec in FIGURE_LOSSES}
    unknown = [key for key in keys if key not in known]
    if unknown:
        raise UserValueError(f"unknown loss key(s) {unknown}; valid: {', '.join(known)}")
    return [spec for spec in FIGURE_LOSSES if spec.key in keys]
