"""cfn-lint, checkov and the SAM transform on template.yaml, at the versions the Makefile pins.

``make template`` runs the same cfn-lint and checkov commands.

Every finding fails the test; a check that does not apply is skipped in the template itself, next to
the resource, with its reason (``Metadata: checkov: skip: [{id, comment}]``), and the test asserts
that every such skip carries a reason.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from local.template import ROOT, TEMPLATE_PATH, load_template

MAKEFILE = ROOT / "Makefile"


def pinned(variable: str) -> str:
    """The tool requirement (``name==version``) a Makefile variable such as ``CHECKOV`` pins."""
    match = re.search(rf"^{variable} := (\S+==\S+)$", MAKEFILE.read_text(encoding="utf-8"), re.MULTILINE)
    assert match, f"the Makefile should pin {variable} := <tool>==<version>"
    return match.group(1)


def uv() -> str:
    found = ROOT / ".tools" / "bin" / "uv"
    if found.exists():
        return str(found)
    on_path = shutil.which("uv")
    if on_path is None:
        pytest.skip(reason="uv is not installed (scripts/bootstrap.sh installs it): cfn-lint and checkov cannot run")
    return on_path


def run_tool(requirement: str, *args: str, region: str | None = None) -> subprocess.CompletedProcess[str]:
    """``uv tool run`` of a pinned tool on the project's interpreter, from the repository root."""
    python = ROOT / ".venv" / "bin" / "python"
    interpreter = ["--python", str(python)] if python.exists() else []
    return subprocess.run(
        [uv(), "tool", "run", *interpreter, "--from", requirement, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"} | ({"AWS_DEFAULT_REGION": region} if region else {}),
    )


def test_cfn_lint_finds_nothing_including_informational_checks():
    result = run_tool(
        pinned("CFN_LINT"), "cfn-lint", "--format", "json", "--include-checks", "I", "--", "template.yaml"
    )
    assert result.returncode in (0, 2, 4, 6, 8, 10, 12, 14), f"cfn-lint did not run:\n{result.stderr}"
    findings = json.loads(result.stdout or "[]")
    report = "\n".join(
        f"{f['Rule']['Id']} line {f['Location']['Start']['LineNumber']}: {f['Message']}" for f in findings
    )
    assert findings == [], f"cfn-lint found problems in template.yaml:\n{report}"


def test_checkov_passes_every_check_that_the_template_does_not_skip_with_a_reason():
    result = run_tool(
        pinned("CHECKOV"),
        "checkov",
        "--file",
        TEMPLATE_PATH.name,
        "--framework",
        "cloudformation",
        "--output",
        "json",
        "--compact",
        "--quiet",
        "--skip-download",
    )
    assert result.stdout.strip().startswith("{"), f"checkov did not run:\n{result.stdout}\n{result.stderr}"
    report = json.loads(result.stdout)
    failed = report["results"]["failed_checks"]
    listing = "\n".join(f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in failed)
    assert failed == [], (
        f"checkov failed these checks (fix them, or skip one in the template with a reason):\n{listing}"
    )
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["passed"] > 0


def test_every_checkov_skip_in_the_template_gives_a_reason():
    skips = [
        (name, skip)
        for name, resource in load_template()["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips, "the template skips no checkov check: drop this test or the skips"
    for name, skip in skips:
        assert re.fullmatch(r"CKV2?_AWS_\d+", skip.get("id", "")), f"{name}: a skip needs a check id, got {skip}"
        assert len(skip.get("comment", "").split()) >= 6, f"{name}: skipping {skip['id']} needs a one-line reason"


def test_the_tools_are_pinned_once_in_the_makefile_and_used_by_make_template():
    makefile = MAKEFILE.read_text(encoding="utf-8")
    target = makefile.split("\ntemplate:", 1)[1].split("\n\n", 1)[0]
    assert "$(CFN_LINT)" in target and "$(CHECKOV)" in target
    assert Path(TEMPLATE_PATH).name in target


SAM_TRANSFORM = """
import json, sys
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

with open(sys.argv[1], encoding="utf-8") as handle:
    document = yaml_parse(handle.read())
for resource in document["Resources"].values():
    for uri in ("CodeUri", "ContentUri"):
        if uri in resource.get("Properties", {}):
            resource["Properties"][uri] = "s3://bucket/key"  # as sam validate does: code is not part of the check
print(json.dumps(transform(document, {}, None)))
"""


def test_after_the_sam_transform_no_role_has_a_managed_policy_and_each_function_runs_as_its_own_role():
    # Given the CloudFormation template that SAM turns template.yaml into (the SAM CLI's own translator)
    result = run_tool(pinned("SAM_CLI"), "python", "-c", SAM_TRANSFORM, TEMPLATE_PATH.name, region="us-east-1")
    assert result.returncode == 0, f"the SAM transform failed:\n{result.stderr}"
    resources = json.loads(result.stdout)["Resources"]
    declared = load_template()["Resources"]

    # Then SAM added no role of its own and no managed policy (which would grant logs or streams on "*")
    roles = {name: r["Properties"] for name, r in resources.items() if r["Type"] == "AWS::IAM::Role"}
    assert set(roles) <= set(declared), f"roles SAM generated: {set(roles) - set(declared)}"
    assert all("ManagedPolicyArns" not in role for role in roles.values())
    functions = {name: r["Properties"] for name, r in resources.items() if r["Type"] == "AWS::Lambda::Function"}
    assert functions
    run_as = [f["Role"]["Fn::GetAtt"][0] for f in functions.values()]
    assert len(set(run_as)) == len(functions) and set(run_as) <= set(roles)
