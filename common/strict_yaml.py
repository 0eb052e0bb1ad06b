"""YAML loading that refuses a key repeated in one mapping.

PyYAML keeps the last of two equal keys without a word, so `model: {name: x}` followed by
`model: {width: 1.0}` silently drops the model name. Config and set files are read with this
loader instead, and a repeated key is an error naming the key and its line.
"""

from __future__ import annotations

import yaml

from common.errors import UserValueError


class DuplicateKeyError(UserValueError):
    """A mapping in the document names the same key twice (the message gives key and line)."""


class _UniqueKeyLoader(yaml.SafeLoader):
    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<:` merges are allowed to repeat keys
                continue
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                line = key_node.start_mark.line + 1
                raise DuplicateKeyError(f"line {line}: key {key!r} appears twice in one mapping")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_unique(stream):
    """yaml.safe_load, except that a key repeated in one mapping raises DuplicateKeyError."""
    return yaml.load(stream, Loader=_UniqueKeyLoader)
