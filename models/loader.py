"""`load_embedder(path)`: the one loader for every embedder the tools accept.

It dispatches on the file type: a `.tflite` file (models/tflite.py) or a SavedModel export
(models/export.py: a run dir, its export/ folder or the SavedModel folder). The model is scanned
(models/graph_scan.py) before anything in it is loaded, unless the caller trusts it.
"""

from __future__ import annotations

from pathlib import Path

from common.errors import require_file
from common.run_layout import MODEL_INFO_FILE, require_export
from models.export import Embedder, read_info
from models.graph_scan import scan_saved_model, scan_tflite
from models.tflite import TfliteEmbedder


def load_embedder(path, trust: bool = False):
    """An Embedder or TfliteEmbedder (same interface) for `path`; `trust` skips the scan."""
    path = Path(path)
    if path.suffix == ".tflite":
        require_file(path, "TFLite embedder")
        if not trust:
            scan_tflite(path)
        return TfliteEmbedder(path, read_info(path.parent / MODEL_INFO_FILE))
    found = require_export(path)
    if not trust:
        scan_saved_model(found.saved_model)
    return Embedder(found.saved_model, read_info(found.model_info))
