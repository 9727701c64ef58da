"""Loading the entities configuration from JSON and TOML, with clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from server.entities.config import ConfigError, Policy, load_config, parse_config

JSON = """{
  "tombstone_retention_seconds": 604800,
  "collections": {
    "tasks": {
      "schema": {"type": "object", "properties": {"title": {"type": "string"}}},
      "fields": {"count": "counter", "tags": "set", "balance": {"policy": "server", "default": 0}},
      "require_idempotency_key": true
    }
  }
}"""

TOML = """
tombstone_retention_seconds = 604800
[collections.tasks]
fields = { count = "counter", tags = "set", balance = { policy = "server", default = 0 } }
require_idempotency_key = true
[collections.tasks.schema]
type = "object"
"""


@pytest.mark.parametrize(("name", "text"), [("e.json", JSON), ("e.toml", TOML)])
def test_json_and_toml_load_the_same_collection(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    config = load_config(path)
    tasks = config.collections["tasks"]
    assert config.tombstone_retention_seconds == 604800
    assert tasks.policy("count") is Policy.COUNTER and tasks.policy("title") is Policy.LWW
    assert tasks.policy("balance") is Policy.SERVER and tasks.defaults == {"balance": 0}
    assert tasks.require_idempotency_key and not tasks.require_precondition


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"collections": {"bad name!": {}}}, "collection name"),
        ({"collections": {"t": {"fields": {"x": "crdt"}}}}, "policy 'crdt'"),
        ({"collections": {"t": {"schema": {"type": "nonsense"}}}}, "invalid JSON Schema"),
        ({"collections": {"t": {"fields": {"x": {"policy": "lww", "default": 1}}}}}, "default"),
        ({"collections": {"t": {"colour": "red"}}}, "unknown keys"),
        ({"retention": 5}, "unknown entities config keys"),
        ({"max_page": 0}, "max_page"),
        ({"collections": {"t": {"owner_field": "o", "fields": {"o": "set"}}}}, "owner_field"),
        ([], "must be an object"),
    ],
)
def test_an_invalid_config_names_its_mistake(document: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(document)


def test_an_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "bad.json")
