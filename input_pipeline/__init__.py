"""tf.data input pipelines over aligned identity folders or TFRecord shards, incl. P x K batches.

Entry point for training: `input_pipeline.datasets.build_train_dataset`.
"""
