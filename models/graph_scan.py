"""Check a model file before anything in it runs: a SavedModel's graph, or a .tflite's operators.

A SavedModel is a program: its functions may read and write files, open sockets or call Python
(ReadFile, WriteFile, PyFunc, the dataset readers, ...), and `tf.saved_model.load` or the first
call runs them. So the graph is parsed as plain protobuf (nothing is loaded or executed) and every
op type is checked against an allowlist of what an embedder needs, as TensorFlow's
`saved_model_cli scan` checks its denylist (ReadFile, WriteFile, PrintV2), but stricter: an op
that is not listed is refused, so a new file or network op cannot slip through.

Scopes (docs/security.md):
- functions the loader restores from the object graph (the signatures, the traced methods, any
  resource initialiser) and the functions they call: COMPUTE_OPS only;
- the main graph: the variable handles and the calls into the checkpoint functions;
- the traced save/restore functions that the main graph's saver calls (TF1-style loaders use
  them; `tf.saved_model.load` restores a TF2 model's variables itself and never runs them):
  COMPUTE_OPS plus CHECKPOINT_OPS;
- any other function: COMPUTE_OPS.
A TF1-style SavedModel (no object graph) is refused: loading it runs its own init and restore ops.

A .tflite file may use builtin operators only: a custom operator (a Flex op runs any TensorFlow
op, files included) is refused.
"""

from __future__ import annotations

from pathlib import Path

from common.errors import UserValueError
from common.model_trust import TRUST_HINT

# Pure tensor maths an embedder of this repository uses (every backbone, every BN mode, the
# export's serving wrapper), plus close relatives a retrained variant may need. None touches
# files, the network, processes or the Python interpreter.
COMPUTE_OPS = frozenset(
    """
    Abs Add AddN AddV2 ArgMax ArgMin AvgPool BatchMatMulV2 BatchMatMulV3 BiasAdd BroadcastTo Cast
    Ceil ConcatV2 Const Conv2D DepthwiseConv2dNative Div DivNoNan Elu Equal Erf Exp ExpandDims
    Fill Floor FloorDiv FloorMod FusedBatchNorm FusedBatchNormV3 GatherV2 Greater GreaterEqual
    Identity IdentityN L2Loss LeakyRelu Less LessEqual Log LogicalAnd LogicalNot LogicalOr MatMul
    Max MaxPool Maximum Mean Min Minimum Mul Neg NoOp OnesLike Pack Pad PadV2 Prod Range Rank
    ReadVariableOp RealDiv Relu Relu6 Reshape Rsqrt Select SelectV2 Selu Shape Sigmoid Sign Size
    Slice Softmax Softplus Split SplitV Sqrt Square SquaredDifference Squeeze StopGradient
    StridedSlice Sub Sum Tanh Tile Transpose Unpack ZerosLike
    PartitionedCall StatefulPartitionedCall
""".split()
)

# The main graph: variable handles and the calls into the save/restore functions.
MAIN_GRAPH_OPS = COMPUTE_OPS | frozenset(
    """
    AssignVariableOp Placeholder VarHandleOp VarIsInitializedOp
""".split()
)

# The traced checkpoint functions write and read the model's own variables/ files.
CHECKPOINT_OPS = frozenset(
    """
    AssignVariableOp DisableCopyOnRead MergeV2Checkpoints RestoreV2 SaveV2 ShardedFilename
    StaticRegexFullMatch StringJoin
""".split()
)


class UnsafeModelError(UserValueError):
    """The model file holds an operation outside the allowlist (or cannot be read as a model)."""


def scan_saved_model(saved_model_dir: str | Path) -> None:
    """Raise UnsafeModelError naming every disallowed op type of `saved_model_dir`'s graph."""
    from tensorflow.core.protobuf import saved_model_pb2

    path = Path(saved_model_dir) / "saved_model.pb"
    saved = saved_model_pb2.SavedModel()
    try:
        saved.ParseFromString(path.read_bytes())
    except Exception as error:  # protobuf's DecodeError, or a truncated file
        raise UnsafeModelError(f"{path}: not a SavedModel ({type(error).__name__})") from None
    if not saved.meta_graphs:
        raise UnsafeModelError(f"{path}: not a SavedModel (no graph)")
    if not all(meta_graph.object_graph_def.nodes for meta_graph in saved.meta_graphs):
        # TF1 SavedModels are loaded by running their restore and init ops from the main graph,
        # with any checkpoint path those ops name: not something an allowlist can vouch for.
        raise UnsafeModelError(
            f"{path}: a TF1-style SavedModel (no object graph), whose loading "
            f"runs its own init and restore ops; {TRUST_HINT}"
        )
    found = [hit for meta_graph in saved.meta_graphs for hit in disallowed_ops(meta_graph)]
    if found:
        ops = sorted({op for op, _ in found})
        raise UnsafeModelError(
            f"{path}: op {', '.join(ops)} (first in {found[0][1]}) not allowed "
            f"in an embedder (may touch files, the network or processes); "
            f"{TRUST_HINT}"
        )


def disallowed_ops(meta_graph) -> list[tuple[str, str]]:
    """(op type, where) of every node outside its scope's allowlist, main graph first."""
    library = {f.signature.name: f for f in meta_graph.graph_def.library.function}
    restored = _reachable(set(meta_graph.object_graph_def.concrete_functions), library)
    saver = _reachable(_saver_functions(meta_graph, library), library) - restored
    found = [
        (node.op, "the main graph")
        for node in meta_graph.graph_def.node
        if node.op not in MAIN_GRAPH_OPS and node.op not in library
    ]
    for name, function in sorted(library.items()):
        allowed = COMPUTE_OPS | CHECKPOINT_OPS if name in saver else COMPUTE_OPS
        found += [
            (node.op, f"function {name}")
            for node in function.node_def
            if node.op not in allowed and node.op not in library
        ]
    return found


def _saver_functions(meta_graph, library: dict) -> set[str]:
    """The functions the main graph's save and restore nodes (its saver_def) call."""
    saver = meta_graph.saver_def
    names = {saver.save_tensor_name.split(":")[0], saver.restore_op_name.split(":")[0]}
    return {
        callee
        for node in meta_graph.graph_def.node
        if node.name in names
        for callee in _callees(node)
        if callee in library
    }


def _reachable(roots: set[str], library: dict) -> set[str]:
    """`roots` and every library function they call, by op type or through a function attr."""
    seen, pending = set(), [name for name in roots if name in library]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        for node in library[name].node_def:
            pending += [callee for callee in _callees(node) if callee in library]
    return seen


def _callees(node) -> list[str]:
    names = [node.op]
    for value in node.attr.values():
        if value.HasField("func"):
            names.append(value.func.name)
        names += [function.name for function in value.list.func]
    return names


def scan_tflite(path: str | Path) -> None:
    """Raise UnsafeModelError if the .tflite file at `path` uses a custom operator."""
    from tensorflow.lite.python import schema_py_generated as schema

    path = Path(path)
    data = path.read_bytes()
    try:
        model = schema.Model.GetRootAsModel(data, 0)
        codes = [model.OperatorCodes(i) for i in range(model.OperatorCodesLength())]
        custom = [
            code.CustomCode()
            for code in codes
            if max(code.BuiltinCode(), code.DeprecatedBuiltinCode()) == schema.BuiltinOperator.CUSTOM
        ]
    except Exception as error:  # flatbuffers raises plain errors on a file that is not one
        raise UnsafeModelError(f"{path}: not a TFLite model ({type(error).__name__})") from None
    if custom:
        name = custom[0].decode("utf-8", "backslashreplace") if custom[0] else "?"
        raise UnsafeModelError(
            f"{path}: custom operator {name} is not allowed in an embedder "
            f"(a custom or Flex op can run any code); {TRUST_HINT}"
        )
