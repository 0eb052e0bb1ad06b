"""The CPU as 2 logical devices (the same cores and threads), the replicas of
`train.strategy: mirrored` in the multi-replica tests; split once, before any test touches
TensorFlow (tests/conftest.py imports this module first). Ops not placed by a strategy run on the
first device, as they do unsplit."""

from __future__ import annotations

CPU_REPLICAS = 2


def _split_cpu() -> str | None:
    from training.strategy import split_cpu

    try:
        split_cpu(CPU_REPLICAS)
    except RuntimeError as error:  # TensorFlow was initialised before this module was imported
        return str(error)
    return None


# None when the split holds, else why not (the multi-replica tests skip with it).
CPU_SPLIT_ERROR = _split_cpu()
