"""Write sharded TFRecords from aligned identity folders.

    python -m input_pipeline.write_tfrecords --input-dir ALIGNED --output-dir OUT --shards N
"""
from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tqdm import tqdm

from input_pipeline.file_list import scan_identity_folders
from input_pipeline.tfrecords import write_shards


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input-dir", required=True, help="aligned root/<identity>/<image>")
    parser.add_argument("--output-dir", required=True, help="new or empty folder for the shards")
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--min-images", type=int, default=1, help="minimum images per identity")
    parser.add_argument("--seed", type=int, default=0, help="seed of the file order")
    args = parser.parse_args(argv)
    if args.shards <= 0:
        parser.error("--shards must be positive")
    try:
        file_list = scan_identity_folders(args.input_dir, args.min_images)
        with tqdm(total=len(file_list.paths), unit="img") as bar:
            result = write_shards(file_list, args.output_dir, args.shards, args.seed, bar.update)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for line in result["skipped"]:
        print(f"skipped: {line}", file=sys.stderr)
    print(f"wrote {result['written']} images of {file_list.num_classes} identities into "
          f"{result['shards']} shards in {args.output_dir} ({len(result['skipped'])} skipped)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
