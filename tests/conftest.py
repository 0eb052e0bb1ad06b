"""Shared fixtures: the real data root (a missing one fails under CI, skips elsewhere), a tiny
stand-in training set, a tiny untrained exported model and odd photos; and two logical CPU devices
so the multi-replica tests run MirroredStrategy on a CPU-only machine (tests/helpers/cpu_devices.py)."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

# Before any test touches TensorFlow: the CPU split in logical devices for the multi-replica tests.
import tests.helpers.cpu_devices  # noqa: E402,F401  (splits at import)
from common.paths import data_root


def running_in_ci() -> bool:
    """CI systems set CI=true (GitHub Actions, GitLab, ...; .ci/run sets it too)."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def real_data_missing() -> str | None:
    """None when the data root holds LFW, else a one-line reason."""
    root = data_root()
    if (root / "lfw").is_dir():
        return None
    return (
        f"real data not found at {root} (expected lfw/, lfw_pairs.txt, celeba299/, ...; "
        "set FACEREC_DATA or see docs/data.md)"
    )


def pytest_sessionstart(session):
    """Under CI the README promises the data: a missing data root fails the session in one line
    instead of skipping every test that needs it. Checked once, in the main process, not in each
    pytest-xdist worker (a worker's pytest.exit is an INTERNALERROR)."""
    if not running_in_ci() or hasattr(session.config, "workerinput"):
        return
    reason = real_data_missing()
    if reason:
        pytest.exit(f"CI=true and {reason}", returncode=1)


@pytest.hookimpl(tryfirst=True)  # before -m deselects: the slow tests' integration marker counts
def pytest_collection_modifyitems(items):
    """A slow test is an integration test too, so `-m "not integration"` leaves out every long one.
    Then the files with the most slow tests first, then those with the most integration tests:
    pytest-xdist hands out whole files in this order (pytest.ini: --dist loadfile
    --no-loadscope-reorder), so the long files start at once while the many short ones fill the
    other worker, instead of a long file running alone at the end."""
    for item in items:
        if item.get_closest_marker("slow") and not item.get_closest_marker("integration"):
            item.add_marker(pytest.mark.integration)
    slow_per_file, integration_per_file = marked_per_file(items, "slow"), marked_per_file(items, "integration")
    items.sort(key=lambda item: (-slow_per_file[item.path], -integration_per_file[item.path]))  # stable


def marked_per_file(items, marker: str) -> Counter:
    """How many test functions of each file carry the marker (a parametrized test counts once)."""
    functions = {
        (item.path, getattr(item, "originalname", item.name)) for item in items if item.get_closest_marker(marker)
    }
    return Counter(path for path, _ in functions)


def pytest_terminal_summary(terminalreporter):
    """On a clone without the data the skips stay; say once why, and how to run them."""
    skipped = [
        r for r in terminalreporter.stats.get("skipped", []) if "real data not found" in str(getattr(r, "longrepr", ""))
    ]
    if skipped:
        terminalreporter.write_line(f"{len(skipped)} tests skipped: {real_data_missing()}", yellow=True)


@pytest.fixture(scope="session")
def data_dir():
    reason = real_data_missing()
    if reason:
        pytest.skip(reason)
    return data_root()


@pytest.fixture(scope="session")
def standin_train_dir(data_dir, tmp_path_factory) -> Path:
    """4 real CelebA identities x 6 images, centre-cropped to 112x96 (PNG)."""
    from input_pipeline.standin import centre_crop_folders

    return centre_crop_folders(
        data_dir / "celeba299", tmp_path_factory.mktemp("standin"), identities=4, images_per_identity=6, min_images=10
    )


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A tiny untrained exported model: the verify/identify tests check plumbing and exact
    agreement with it, not recognition quality."""
    import models
    from tests.helpers.recognition import TINY_MODEL

    model = models.build(**TINY_MODEL)
    return models.export_embedder(
        model, tmp_path_factory.mktemp("tiny") / "export", TINY_MODEL["image_size"], dict(note="untrained, for tests")
    )


@pytest.fixture(scope="session")
def odd_photos(tmp_path_factory):
    """An unreadable .jpg and a real-image-sized photo with no face in it."""
    import numpy as np
    from PIL import Image

    folder = tmp_path_factory.mktemp("odd")
    (folder / "broken.jpg").write_bytes(b"this is not a JPEG")
    ramp = np.tile(np.linspace(40, 200, 160, dtype=np.uint8), (120, 1))
    Image.fromarray(np.stack([ramp] * 3, axis=2)).save(folder / "no_face.jpg")
    return folder / "broken.jpg", folder / "no_face.jpg"


@pytest.fixture(scope="session")
def hostile_model(tmp_path_factory):
    """(export dir, the file it would write when it runs)."""
    from tests.helpers.recognition import write_hostile_export

    folder = tmp_path_factory.mktemp("hostile")
    victim = folder / "secret.txt"
    victim.write_text("private\n")
    stolen = folder / "stolen.txt"
    return write_hostile_export(folder, victim, stolen), stolen
