"""tf.data input pipelines over aligned identity folders or TFRecord shards, incl. P x K batches.

Entry point for training: `input_pipeline.train_data` (`open_train_source`, `cache_in_memory`,
`build_train_dataset`); it owns the choice of route (folders, TFRecords, RAM cache). The package
itself imports nothing, so TF-free tools may import its TF-free modules (e.g. `file_list`).
"""
