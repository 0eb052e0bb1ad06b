"""tf.data input pipelines over aligned identity folders or TFRecord shards, incl. P x K batches.

Entry point for training: `input_pipeline.train_data.build_train_dataset`.
"""
