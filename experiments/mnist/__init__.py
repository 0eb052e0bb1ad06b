"""MNIST 2-D / 3-D feature visualisation: data split, tiny CNN, training loop, plots.

Reusable pieces behind `experiments/mnist_features.py`, which reproduces the article's figure of
how each classification loss (softmax, SphereFace, NormFace, AM-softmax, ArcFace) shapes
low-dimensional features.
"""
