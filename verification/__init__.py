"""LFW-style face verification: pairs parsing, the k-fold protocol, metrics, embedding, reports.

`verification.protocol.evaluate_pairs` is the single implementation of the protocol, used by
eval_lfw.py and by train.py's in-training checks (through `verification.lfw.BenchmarkEvaluator`).
Benchmarks (LFW, insightface .bin files, pair lists) are registered in verification/benchmarks.py.
The NumPy modules (pairs, metrics, protocol) import no TensorFlow.
"""
