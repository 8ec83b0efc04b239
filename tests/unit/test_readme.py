"""What README.md states about the template and the Makefile is what they say."""

import re
import shutil
import subprocess

import pytest

from local.template import ROOT, template

README = (ROOT / "README.md").read_text(encoding="utf-8")
MAKEFILE = (ROOT / "Makefile").read_text(encoding="utf-8")
DOCS = [README] + [page.read_text(encoding="utf-8") for page in sorted((ROOT / "docs").rglob("*.md"))]


def test_the_first_lines_give_the_run_and_the_test_command():
    head = "\n".join(README.splitlines()[:8])
    assert "make dev" in head and "make test" in head


def test_the_parameter_table_lists_every_template_parameter_with_its_default():
    rows = dict(re.findall(r"^\| `(\w+)` \| `([^`]*)` \|", README, re.M))
    parameters = template()["Parameters"]
    documented = {name: rows[name] for name in parameters if name in rows}
    assert set(documented) == set(parameters), f"undocumented: {sorted(set(parameters) - set(rows))}"
    for name, default in documented.items():
        expected = str(parameters[name].get("Default", ""))
        assert default.strip('"') == expected, f"{name}: README says {default}, template.yaml {expected}"


def make_targets_named(text: str) -> set[str]:
    """The targets of every `make` command in the code of a Markdown page (code spans and fenced blocks)."""
    code = re.findall(r"^```[^\n]*\n(.*?)^```", text, re.M | re.S) + re.findall(r"`([^`\n]+)`", text)
    named = set()
    for snippet in code:
        for command in re.findall(r"(?:^|[\s;&|(])make((?:[ \t]+[^\s;&|#]+)+)", snippet, re.M):
            named |= {word for word in command.split() if re.fullmatch(r"[a-z0-9][a-z0-9_-]*", word)}
    return named


def test_every_make_target_the_docs_name_exists():
    targets = set(re.findall(r"^([a-zA-Z0-9_-]+):", MAKEFILE, re.M))
    named = set().union(*(make_targets_named(page) for page in DOCS))
    assert {"dev", "test", "e2e"} <= named
    assert named <= targets, f"missing targets: {sorted(named - targets)}"


@pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make (apt-get install make)")
def test_make_help_lists_every_target_and_every_target_the_docs_name():
    listed = subprocess.run(
        ["make", "--no-print-directory", "help"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    shown = set(re.findall(r"^  make (\S+)", listed.stdout, re.M))
    phony = set(re.search(r"^\.PHONY:((?:.*\\\n)*.*)$", MAKEFILE, re.M).group(1).replace("\\", " ").split())
    named = set().union(*(make_targets_named(page) for page in DOCS))
    assert "e2e" in shown
    assert phony <= shown, f"not in `make help`: {sorted(phony - shown)}"
    assert named <= shown, f"named in the docs, not in `make help`: {sorted(named - shown)}"


def test_every_function_of_the_template_has_a_ready_event_named_in_the_readme():
    functions = [name for name, res in template()["Resources"].items() if res["Type"] == "AWS::Serverless::Function"]
    for name in functions:
        match = re.search(rf"make invoke FUNCTION={name} EVENT=(events/[\w.]+\.json)", README)
        assert match, f"README shows no `make invoke FUNCTION={name} EVENT=events/...`"
        assert (ROOT / match.group(1)).exists(), match.group(1)
