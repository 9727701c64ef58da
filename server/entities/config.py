"""Declared collections: each names a JSON Schema for ``data`` and a merge policy per field.

Loaded from a JSON or TOML file (``--entities-config`` / ``COEDIT_ENTITIES_CONFIG``) or built in
code (tests). Pure: reads a file only in ``load_config``; imports no server module.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import SchemaError
from jsonschema.protocols import Validator

NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_\-]{0,63}")


class ConfigError(ValueError):
    """The entities configuration is invalid; the message names the offending entry."""


class Policy(StrEnum):
    """How a field merges when a write carries no precondition (``docs/entities.md``)."""

    LWW = "lww"  # last writer wins, in server commit order
    COUNTER = "counter"  # {"$inc": n} increments add up
    SET = "set"  # {"$add": [...]} / {"$remove": [...]} merge
    SERVER = "server"  # written by the server only; clients get 422 server_field


@dataclass(frozen=True, slots=True)
class Collection:
    """One declared collection."""

    name: str
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "object"})
    fields: Mapping[str, Policy] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)  # server fields' initial values
    default_policy: Policy = Policy.LWW
    require_precondition: bool = False
    require_idempotency_key: bool = False
    owner_field: str | None = None  # a record is readable only by the user this field names
    validator: Validator = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not NAME.fullmatch(self.name):
            raise ConfigError(
                f"collection name {self.name!r} must be 1-64 characters of A-Z a-z 0-9 _ -"
            )
        cls = validators.validator_for(self.schema, default=Draft202012Validator)
        try:
            cls.check_schema(dict(self.schema))
        except SchemaError as exc:
            raise ConfigError(
                f"collection {self.name!r}: invalid JSON Schema: {exc.message}"
            ) from exc
        object.__setattr__(self, "validator", cls(self.schema))
        for name, value in self.defaults.items():
            if self.policy(name) is not Policy.SERVER:
                raise ConfigError(
                    f"collection {self.name!r}: field {name!r} has a default but only server "
                    "fields take one"
                )
            _ = value
        if self.owner_field is not None and self.policy(self.owner_field) is not Policy.LWW:
            raise ConfigError(f"collection {self.name!r}: owner_field must be an lww field")

    def policy(self, name: str) -> Policy:
        """The merge policy of a top-level field of ``data``."""
        return self.fields.get(name, self.default_policy)


@dataclass(frozen=True, slots=True)
class EntitiesConfig:
    """Collections and the limits of the entities API; defaults are documented."""

    collections: Mapping[str, Collection] = field(default_factory=dict)
    tombstone_retention_seconds: float = 30 * 86400.0
    idempotency_ttl_seconds: float = 86400.0
    max_batch_writes: int = 1000
    max_body_bytes: int = 8 << 20
    max_page: int = 1000
    default_page: int = 100
    max_wait_seconds: float = 60.0
    purge_interval_seconds: float = 60.0

    def __post_init__(self) -> None:
        for name, collection in self.collections.items():
            if name != collection.name:
                raise ConfigError(f"collection {collection.name!r} is registered as {name!r}")
        for name in ("max_batch_writes", "max_body_bytes", "max_page", "default_page"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1")
        object.__setattr__(self, "collections", MappingProxyType(dict(self.collections)))

    @classmethod
    def of(cls, *collections: Collection, **options: Any) -> EntitiesConfig:
        """A config holding ``collections`` (a convenience for code and tests)."""
        return cls(collections={c.name: c for c in collections}, **options)


_TOP_KEYS = {
    "collections",
    "tombstone_retention_seconds",
    "idempotency_ttl_seconds",
    "max_batch_writes",
    "max_body_bytes",
    "max_page",
    "default_page",
    "max_wait_seconds",
    "purge_interval_seconds",
}
_COLLECTION_KEYS = {
    "schema",
    "fields",
    "default_policy",
    "require_precondition",
    "require_idempotency_key",
    "owner_field",
}


def load_config(path: str | Path) -> EntitiesConfig:
    """Read a ``.json`` or ``.toml`` file (see ``docs/entities.md``); ``ConfigError`` if invalid."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        document = tomllib.loads(raw.decode()) if path.suffix == ".toml" else json.loads(raw)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read entities config {path}: {exc}") from exc
    return parse_config(document)


def parse_config(document: Any) -> EntitiesConfig:
    """Build the config from its decoded JSON/TOML form."""
    if not isinstance(document, dict):
        raise ConfigError("the entities config must be an object")
    unknown = set(document) - _TOP_KEYS
    if unknown:
        raise ConfigError(f"unknown entities config keys: {sorted(unknown)}")
    collections = document.get("collections", {})
    if not isinstance(collections, dict):
        raise ConfigError("'collections' must be an object of collection name to definition")
    options = {k: v for k, v in document.items() if k != "collections"}
    for name, value in options.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{name!r} must be a number")
    parsed = [_parse_collection(name, spec) for name, spec in collections.items()]
    return EntitiesConfig.of(*parsed, **options)


def _parse_collection(name: str, spec: Any) -> Collection:
    if not isinstance(spec, dict):
        raise ConfigError(f"collection {name!r} must be an object")
    unknown = set(spec) - _COLLECTION_KEYS
    if unknown:
        raise ConfigError(f"collection {name!r}: unknown keys {sorted(unknown)}")
    policies: dict[str, Policy] = {}
    defaults: dict[str, Any] = {}
    fields = spec.get("fields", {})
    if not isinstance(fields, dict):
        raise ConfigError(f"collection {name!r}: 'fields' must be an object")
    for field_name, field_spec in fields.items():
        if isinstance(field_spec, dict):
            if "default" in field_spec:
                defaults[field_name] = field_spec["default"]
            field_spec = field_spec.get("policy")
        policies[field_name] = _policy(name, field_name, field_spec)
    flags = {k: spec[k] for k in ("require_precondition", "require_idempotency_key") if k in spec}
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise ConfigError(f"collection {name!r}: {key!r} must be true or false")
    owner = spec.get("owner_field")
    if owner is not None and not isinstance(owner, str):
        raise ConfigError(f"collection {name!r}: 'owner_field' must be a field name")
    schema = spec.get("schema", {"type": "object"})
    if not isinstance(schema, dict):
        raise ConfigError(f"collection {name!r}: 'schema' must be a JSON Schema object")
    return Collection(
        name=name,
        schema=schema,
        fields=policies,
        defaults=defaults,
        default_policy=_policy(name, "default_policy", spec.get("default_policy", "lww")),
        owner_field=owner,
        **flags,
    )


def _policy(collection: str, field_name: str, value: Any) -> Policy:
    try:
        return Policy(value)
    except ValueError:
        choices = ", ".join(p.value for p in Policy)
        raise ConfigError(
            f"collection {collection!r}: field {field_name!r} has policy {value!r}; "
            f"expected one of {choices}"
        ) from None
