"""Tool configuration: one dataclass per tool; defaults < ``--config FILE.yaml`` < flags.
Unknown keys and bad values fail at parse time, naming the key (and file). Booleans take
``--x``, ``--x false`` and ``--no-x``; list fields take several values after one flag."""
from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import typing
from pathlib import Path

import yaml


def option(default, help: str, choices=None, type=None, flag: str | None = None,
           aliases: tuple[str, ...] = ()):
    """A config field with its ``--help`` text (and optional choices / value parser / a flag
    name other than the field's, for names Python reserves such as ``import`` / other flag
    names it also answers to, for commands that other tools' users already type)."""
    # a fresh copy per instance: one shared mutable default would leak between configs
    factory = (lambda: copy.copy(default)) if isinstance(default, (dict, list)) else None
    kwargs = {"default_factory": factory} if factory else {"default": default}
    return dataclasses.field(metadata={"help": help, "choices": choices, "type": type,
                                       "flag": flag, "aliases": aliases}, **kwargs)


def chain_validate(parent) -> None:
    """Call the next ``validate`` in the MRO, if any: option groups (RunOptions, SpaceOptions)
    each check their own fields and pass on, so that a config mixing several groups runs every
    group's checks through one ``super().validate()``."""
    validate = getattr(parent, "validate", None)
    if validate is not None:
        validate()


def _is_list(hint) -> bool:
    return typing.get_origin(hint) is list


def _parser_for(field: dataclasses.Field, hints) -> typing.Callable:
    """The parser of one value (of one element, for a list field)."""
    custom = field.metadata.get("type")
    if custom:
        return custom
    hint = hints[field.name]
    if _is_list(hint):
        (hint,) = typing.get_args(hint)
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    base = args[0] if args else hint
    if base is dict:
        return _json_dict
    if base is bool:
        return _bool
    optional = type(None) in typing.get_args(hint)
    if optional:
        return lambda text: None if str(text).lower() in ("none", "null", "") else base(text)
    return base


def _bool(text):
    # YAML gives real booleans, flags give text
    if isinstance(text, bool):
        return text
    lowered = str(text).lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {text!r}")


def _json_dict(text):
    value = json.loads(text) if isinstance(text, str) else text
    if not isinstance(value, dict):
        raise ValueError(f"expected a mapping, got {text!r}")
    return value


def parse_config(cls, argv=None, description: str = ""):
    """Build ``cls`` from YAML and command-line flags; errors exit with status 2."""
    hints = typing.get_type_hints(cls)
    fields = dataclasses.fields(cls)
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--config", type=Path, help="YAML file of defaults for these flags")
    for field in fields:
        default = field.default if field.default is not dataclasses.MISSING else \
            field.default_factory()
        name = field.metadata.get("flag") or field.name
        boolean = _parser_for(field, hints) is _bool
        shape = {"nargs": "?", "const": True} if boolean else \
            {"nargs": "+"} if _is_list(hints[field.name]) else {}  # a bare boolean flag = on
        # default SUPPRESS: a flag not given is absent from args, so it cannot overwrite the
        # YAML value with its default (defaults < file < flags)
        parser.add_argument(f"--{name}", *(f"--{a}" for a in field.metadata.get("aliases", ())),
                            dest=field.name, type=_parser_for(field, hints),
                            choices=field.metadata.get("choices"), default=argparse.SUPPRESS,
                            help=f"{field.metadata.get('help', '')} (default: {default})"
                            .replace("%", "%%"),  # argparse %-formats help texts
                            **shape)
        if boolean:
            parser.add_argument(f"--no-{name}", dest=field.name, action="store_const",
                                const=False, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    args = vars(parser.parse_args(argv))
    values = {}
    config_file = args.pop("config", None)
    if config_file is not None:
        values = _read_yaml(parser, config_file, fields, hints)
    values.update(args)
    config = cls(**values)
    try:
        if hasattr(config, "validate"):
            config.validate()
    except ValueError as exc:
        parser.error(str(exc))
    return config


def _read_yaml(parser, path: Path, fields, hints) -> dict:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        parser.error(f"{path}: cannot read config: {exc}")
    if not isinstance(data, dict):
        parser.error(f"{path}: config must be a mapping of flag names to values")
    by_name = {f.name: f for f in fields}
    values = {}
    for key, raw in data.items():
        if key not in by_name:
            parser.error(f"{path}: unknown config key {key!r}")
        field, many = by_name[key], _is_list(hints[key])
        if many and raw is not None and not isinstance(raw, list):
            parser.error(f"{path}: {key!r} must be a list, got {raw!r}")
        items = raw if many else [raw]
        try:
            items = [v if v is None else _parser_for(field, hints)(v) for v in items or []]
        except (TypeError, ValueError) as exc:
            parser.error(f"{path}: bad value for {key!r}: {exc}")
        choices = field.metadata.get("choices")
        for value in items:
            if choices and value not in choices:
                parser.error(f"{path}: {key!r} must be one of {list(choices)}, got {value!r}")
        values[key] = items if many else items[0]
    return values


def to_dict(config) -> dict:
    return dataclasses.asdict(config)


def save_config(config, path) -> None:
    """The resolved configuration as YAML beside what a tool wrote: ``--config`` takes it
    back and repeats the run."""
    from ..atomic import atomic_write_text
    from ..spaces import jsonable

    atomic_write_text(Path(path), yaml.safe_dump(jsonable(to_dict(config)), sort_keys=False))
