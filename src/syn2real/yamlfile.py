"""Reading settings files: YAML that must be a mapping, with duplicate keys refused (PyYAML
silently keeps the last one) and an empty file refused (it would mean "all defaults").
Numbers in exponent form without a dot (``budget: 1e5``) are numbers, as in YAML 1.2 (PyYAML
follows YAML 1.1, where they are strings, and a config then refused "1e5" as not a number)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .errors import UserError, read_input


def _loader() -> type:
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                line = key_node.start_mark.line + 1
                if key in seen:
                    raise UserError(f"duplicate key {key!r} at line {line} (first at line "
                                    f"{seen[key]}): keep one")
                seen[key] = line
            return super().construct_mapping(node, deep=deep)

    # YAML 1.2's floats (1e5, 2E-3 as well as 1.5e5); the resolver lists are copied so that
    # PyYAML's own SafeLoader is left as it is
    UniqueKeyLoader.yaml_implicit_resolvers = {
        k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    UniqueKeyLoader.add_implicit_resolver(
        "tag:yaml.org,2002:float", _FLOAT_12, list("-+0123456789."))
    return UniqueKeyLoader


_FLOAT_12 = re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""", re.X)


def load_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """The mapping in a YAML file; one clear :class:`UserError` naming the file otherwise."""
    import yaml

    p = Path(path)
    raw = read_input(p, "YAML")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{p}: not UTF-8 text; save the settings as UTF-8 YAML") from None
    if not text.strip():
        raise UserError(f"{p}: the file is empty; write the settings as YAML key: value lines")
    try:
        raw = yaml.load(text, Loader=_loader())
    except UserError as exc:
        raise UserError(f"{p}: {exc}") from None
    except yaml.YAMLError as exc:
        raise UserError(f"{p}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict):
        raise UserError(f"{p}: expected a mapping of settings (key: value), got "
                        f"{type(raw).__name__}")
    return raw
