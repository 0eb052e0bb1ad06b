"""Import TensorFlow without the start-up notices that read like failures on a CPU-only machine.

There, `import tensorflow` and the first device query print "failed call to cuInit: ... UNKNOWN
ERROR (303)", "Could not find cuda drivers on your machine" and absl's notice about logs before
its initialisation, which newcomers take for errors. TF_CPP_MIN_LOG_LEVEL cannot hide them: some
are printed before TensorFlow reads it, and the cuInit line is an ERROR that level 3 would hide
together with real errors. So the entry points import TensorFlow through `import_tensorflow()`:
stderr (file descriptor 2, where the C++ logs go) is captured for the import and the device
query, then written back without exactly those lines; every other line, errors included, stays.
A user who sets TF_CPP_MIN_LOG_LEVEL gets TensorFlow's own logging, unfiltered. Every entry point
(common/entry_points.py) that uses TensorFlow calls `import_tensorflow()` before its first import of it.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile

LOG_LEVEL_VARIABLE = "TF_CPP_MIN_LOG_LEVEL"
# Set together with the log level by import_tensorflow(): a child process inherits both (spawned
# workers of the aligner and the TFRecord writer), and the marker tells it that the level is ours,
# not the user's, so it filters its own start-up too.
FILTER_MARKER = "FACEREC_TF_STARTUP_FILTERED"
# Lines that only say "no GPU here" or describe logging itself.
NOTICES = (
    re.compile(r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$"),
    re.compile(r"^I\d{4} .* port\.cc:\d+\] oneDNN custom operations are on\. "),
    re.compile(
        r"^I\d{4} .* cudart_stub\.cc:\d+\] Could not find cuda drivers on your machine, "
        r"GPU will not be used\.$"
    ),
)
NO_DRIVER = NOTICES[2]
# Only a notice when there is no driver at all (NO_DRIVER seen) or the user hid every GPU; on a
# machine with a driver it is a real error and is kept.
CUINIT_FAILED = re.compile(r"^E\d{4} .*\] failed call to cuInit: ")


def without_startup_notices(text: str, gpus_hidden: bool = False) -> str:
    """`text` (captured stderr) without the CPU-only start-up notices."""
    lines = text.splitlines(keepends=True)
    no_gpu = gpus_hidden or any(NO_DRIVER.match(line) for line in lines)
    return "".join(
        line
        for line in lines
        if not any(notice.match(line) for notice in NOTICES) and not (no_gpu and CUINIT_FAILED.match(line))
    )


@contextlib.contextmanager
def _stderr_without_notices(gpus_hidden: bool):
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            sys.stderr.write(without_startup_notices(capture.read().decode(errors="replace"), gpus_hidden))
            sys.stderr.flush()


def import_tensorflow():
    """The tensorflow module, imported (and its devices found) with the notices filtered out."""
    level_set_by_user = LOG_LEVEL_VARIABLE in os.environ and FILTER_MARKER not in os.environ
    if "tensorflow" in sys.modules or level_set_by_user:
        import tensorflow

        return tensorflow
    os.environ[LOG_LEVEL_VARIABLE] = "2"  # no INFO/WARNING lines from the C++ side after start-up
    os.environ[FILTER_MARKER] = "1"
    with _stderr_without_notices(os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1")):
        import tensorflow

        tensorflow.config.list_physical_devices()  # where cuInit runs
    return tensorflow
