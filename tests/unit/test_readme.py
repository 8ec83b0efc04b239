"""What README.md states about the template and the Makefile is what they say."""

import re

from local.template import ROOT, template

README = (ROOT / "README.md").read_text(encoding="utf-8")
MAKEFILE = (ROOT / "Makefile").read_text(encoding="utf-8")


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


def test_every_make_target_the_readme_names_exists():
    targets = set(re.findall(r"^([a-z-]+):", MAKEFILE, re.M))
    named = set(re.findall(r"`make ([a-z-]+)`", README))
    assert named and named <= targets, f"missing targets: {sorted(named - targets)}"


def test_every_function_of_the_template_has_a_ready_event_named_in_the_readme():
    functions = [name for name, res in template()["Resources"].items() if res["Type"] == "AWS::Serverless::Function"]
    for name in functions:
        match = re.search(rf"make invoke FUNCTION={name} EVENT=(events/[\w.]+\.json)", README)
        assert match, f"README shows no `make invoke FUNCTION={name} EVENT=events/...`"
        assert (ROOT / match.group(1)).exists(), match.group(1)
