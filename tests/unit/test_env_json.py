"""env.json, the `--env-vars` file of `make invoke`, names the local stack's table for every table variable."""

import json

from local.stack import STACK_NAME
from local.template import ROOT
from tests.conftest import table_env_names


def test_env_json_gives_every_table_variable_of_the_template_the_local_stacks_table():
    variables = json.loads((ROOT / "env.json").read_text(encoding="utf-8"))["Parameters"]
    assert variables == {name: f"{STACK_NAME}-{logical_id}" for name, logical_id in table_env_names().items()}
