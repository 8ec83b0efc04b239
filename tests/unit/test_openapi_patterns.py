"""openapi.yaml's ``UserId`` pattern says exactly what the API accepts, code point by code point, in every engine
that reads it: Python, Rust (what Schemathesis validates with), and JavaScript with and without the ``u`` flag."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from beacon.models.fields import check_user_id, is_forbidden_in_identifiers
from local.template import ROOT

OPENAPI = (ROOT / "openapi.yaml").read_text(encoding="utf-8")
SOURCE = yaml.safe_load(OPENAPI)["components"]["schemas"]["UserId"]["pattern"]
PATTERN = re.compile(SOURCE)
# Surrogates are not scalar values: no pattern can name one (the API refuses a lone one sent as a JSON escape).
SCALAR_VALUES = [code for code in range(sys.maxunicode + 1) if not 0xD800 <= code <= 0xDFFF]
MIXED = ["user_42", " ", "\t\u3000", " x ", "a\u200bb", "a\u0378", "\U000f0000x", "a\ufffe", "\U0001f600", "-"]


def accepted(value: str) -> bool:
    try:
        check_user_id(value)
    except ValueError:
        return False
    return True


def test_openapi_yaml_holds_the_pattern_the_script_writes_from_the_rule():
    env = {**os.environ, "PYTHONPATH": str(ROOT / "layers" / "common")}
    script = ROOT / "scripts" / "user_id_pattern.py"
    written = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, check=True).stdout

    assert written.startswith('      pattern: "^') and written in OPENAPI, (
        "run scripts/user_id_pattern.py (its docstring)"
    )


def test_the_pattern_and_the_api_agree_on_every_unicode_scalar_value():
    disagreements = [
        f"U+{code:04X}"
        for code in SCALAR_VALUES
        if bool(PATTERN.fullmatch(f"a{chr(code)}")) is is_forbidden_in_identifiers(chr(code))
    ]
    assert disagreements == []


@pytest.mark.parametrize("value", MIXED)
def test_the_pattern_and_the_api_agree_on_blank_and_mixed_values(value):
    assert bool(PATTERN.fullmatch(value)) is accepted(value)


def test_rust_reads_the_pattern_as_the_api_does():
    jsonschema_rs = pytest.importorskip("jsonschema_rs", reason="jsonschema_rs comes with schemathesis (make install)")
    validator = jsonschema_rs.validator_for({"type": "string", "pattern": SOURCE})

    disagreements = [
        f"U+{code:04X}"
        for code in SCALAR_VALUES
        if validator.is_valid(f"a{chr(code)}") is is_forbidden_in_identifiers(chr(code))
    ]
    assert disagreements == []
    assert [validator.is_valid(value) for value in MIXED] == [accepted(value) for value in MIXED]


JS_CHECK = """
const {pattern, forbidden, mixed} = JSON.parse(require("fs").readFileSync(0, "utf8"));
const refused = new Set(forbidden);
const result = {};
for (const flags of ["", "u"]) {
  const re = new RegExp(pattern, flags);  // a pattern that does not parse throws: the test fails with its message
  const disagreements = [];
  for (let code = 0; code <= 0x10ffff; code++) {
    if (code >= 0xd800 && code <= 0xdfff) continue;
    if (re.test("a" + String.fromCodePoint(code)) === refused.has(code)) disagreements.push(code.toString(16));
  }
  result[flags || "no flag"] = {disagreements, mixed: mixed.map((value) => re.test(value))};
}
console.log(JSON.stringify(result));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js (apt-get install nodejs)")
def test_javascript_reads_the_pattern_as_the_api_does_with_and_without_the_u_flag():
    forbidden = [code for code in SCALAR_VALUES if is_forbidden_in_identifiers(chr(code))]
    given = json.dumps({"pattern": SOURCE, "forbidden": forbidden, "mixed": MIXED})

    ran = subprocess.run(
        ["node", "-e", JS_CHECK], input=given, capture_output=True, text=True, timeout=300, check=False
    )

    assert ran.returncode == 0, ran.stderr
    expected = {"disagreements": [], "mixed": [accepted(value) for value in MIXED]}
    assert json.loads(ran.stdout) == {"no flag": expected, "u": expected}
