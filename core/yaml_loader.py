"""YAML as the project reads it: safe, and a key given twice is an error, not an overwrite."""

from typing import Any

import yaml


class UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a key given twice, which plain YAML silently overwrites."""


def _mapping(loader: UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    keys = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in keys:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        keys.add(key)
    return loader.construct_mapping(node, deep=deep)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def yaml_load(text: str) -> Any:
    """The document in ``text``; yaml.YAMLError when it is not valid YAML or repeats a key."""
    return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
