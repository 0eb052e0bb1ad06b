"""What `eval_lfw.py --model` names: a run dir, an exported SavedModel, a .tflite file, or a
registry name.

A source knows its image size, a cache identity (changes whenever the weights could), whether its
embeddings depend on the batch (BN always_train: then the batch size is part of the identity),
and where its reports belong; it loads its network only when embeddings are not already cached.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path

from common.errors import UserFileNotFoundError, UserKeyError, UserValueError
from common.paths import CACHE_DIR
from common.run_layout import MODEL_INFO_FILE, RunLayout, locate_export, require_export
from verification.embedding import EmbedFn, compiled_embed_fn


@dataclass(frozen=True)
class ModelSource:
    """A model to embed with; `load()` builds or reads it."""

    label: str
    image_size: tuple[int, int]
    identity: dict
    out_dir: Path
    export_path: Path | None = None
    build_options: dict | None = None
    bn_mode: str | None = "switch"  # None: the export does not say
    trusted: bool = False  # skip the model scan (models/graph_scan.py): --trust-model

    @property
    def batch_dependent(self) -> bool:
        """Whether embeddings may depend on the rest of the batch (BN always_train, or unknown)."""
        from models.export import BATCH_DEPENDENT_MODE

        return self.bn_mode is None or self.bn_mode == BATCH_DEPENDENT_MODE

    def load(self) -> EmbedFn:
        """The compiled embedding function (weights loaded or randomly initialised, seeded)."""
        import keras

        import models  # imported on use: it builds Keras layers at import

        if self.export_path is not None:
            # A loaded embedder (SavedModel or TFLite) already maps float32 pixel batches to
            # NumPy through a traced or converted graph: it is the compiled path itself.
            return models.load_embedder(self.export_path, trust=self.trusted)
        options = dict(self.build_options)
        keras.utils.set_random_seed(options.pop("seed"))
        network = models.build(self.label, image_size=self.image_size, **options)
        return compiled_embed_fn(network, self.image_size)


def resolve_model(
    spec: str,
    image_size: tuple[int, int] | None = None,
    width: float = 1.0,
    embedding_size: int = 512,
    seed: int = 0,
    trust_model: bool = False,
) -> ModelSource:
    """Interpret `--model`: run dir (with export/embedder), its export/ folder, SavedModel dir,
    .tflite file (python -m models export-tflite), or registry name.

    `width`, `embedding_size` and `seed` only apply to registry names (an untrained, seeded
    network: the chance baseline). For saved models the image size comes from model_info.json;
    a conflicting `image_size` is an error. A saved model is scanned before it is loaded
    (models/graph_scan.py) unless `trust_model`.
    """
    path = Path(spec)
    if path.suffix == ".tflite" and path.is_file():
        return replace(_tflite_source(path, image_size), trusted=trust_model)
    if path.is_dir():
        found = require_export(path)
        saved, info_path = found.saved_model, found.model_info
        # Reports of a run's model go to the run's eval/; of any other export, to the cache.
        out_dir = (
            RunLayout(found.run_dir).eval if found.run_dir else CACHE_DIR / "eval" / found.export_dir.resolve().name
        )
        size = _size_from_info(info_path, image_size)
        graph = saved / "saved_model.pb"
        identity = {
            "saved_model": str(saved.resolve()),
            "mtime_ns": graph.stat().st_mtime_ns,
            "bytes": graph.stat().st_size,
            "image_size": list(size),
        }
        return ModelSource(
            path.resolve().name,
            size,
            identity,
            out_dir,
            export_path=saved,
            bn_mode=_bn_mode(info_path),
            trusted=trust_model,
        )

    import models

    if spec not in models.available():
        raise UserValueError(
            f"--model {spec}: not a folder, and not a model name (valid: {', '.join(models.available())})"
        )
    size = tuple(image_size or (112, 96))
    options = {"width": width, "embedding_size": embedding_size, "seed": seed}
    identity = {"registry": spec, "image_size": list(size), **options}
    return ModelSource(spec, size, identity, CACHE_DIR / "eval" / f"{spec}_untrained_seed{seed}", build_options=options)


def _tflite_source(path: Path, image_size: tuple[int, int] | None) -> ModelSource:
    """A .tflite embedder; beside a run's SavedModel (runs/<name>/export/) its reports go to the
    run's eval/ folder, named by the file so each variant keeps its own cache and plots."""
    info_path = path.parent / MODEL_INFO_FILE
    size = _size_from_info(info_path, image_size)
    identity = {
        "tflite": str(path.resolve()),
        "mtime_ns": path.stat().st_mtime_ns,
        "bytes": path.stat().st_size,
        "image_size": list(size),
    }
    export = locate_export(path.parent)
    run_dir = export.run_dir if export else None
    out_dir = RunLayout(run_dir).eval / path.stem if run_dir else CACHE_DIR / "eval" / path.stem
    label = f"{run_dir.resolve().name}/{path.name}" if run_dir else path.name
    return ModelSource(label, size, identity, out_dir, export_path=path, bn_mode=_bn_mode(info_path))


def _bn_mode(info_path: Path) -> str | None:
    """The export's recorded BN mode (None when model_info.json is missing or silent)."""
    from models.export import read_info, recorded_bn_mode

    return recorded_bn_mode(read_info(info_path))


def _size_from_info(info_path: Path, requested: tuple[int, int] | None) -> tuple[int, int]:
    """Image size recorded at export (`image_size`: [H, W]), checked against a request."""
    if not info_path.is_file():
        if requested is None:
            raise UserFileNotFoundError(f"{info_path} not found: pass --image-size HxW")
        return tuple(requested)
    from models.export import read_info  # a broken model_info.json is a one-line error

    recorded = read_info(info_path).get("image_size")
    if recorded is None:
        raise UserKeyError(f"{info_path}: no 'image_size' key")
    size = tuple(int(v) for v in recorded)
    if requested is not None and tuple(requested) != size:
        raise UserValueError(
            f"--image-size {requested[0]}x{requested[1]} conflicts with {info_path} ({size[0]}x{size[1]})"
        )
    return size


def cache_key(identity: dict, **options) -> str:
    """Short stable hash of the model identity plus the embedding options."""
    text = json.dumps({**identity, **options}, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:12]
