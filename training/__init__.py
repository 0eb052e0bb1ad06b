"""Training: config, optimizers and schedules, EMA, checkpointing, summaries and the loop.

`train.py` is a thin entry script over `training.loop.run_training`.
"""
