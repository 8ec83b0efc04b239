"""What README.md and the pages of docs/ state about the repository, the template and the Makefile is what they say."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from local.template import ROOT, template

README = ROOT / "README.md"
DOCS = ROOT / "docs"
GENERATED = {"benchmarks.md", "capacity.md"}  # written by `make bench` from benchmarks/, which is checked instead
WRITTEN = [README, *sorted(page for page in DOCS.glob("*.md") if page.name not in GENERATED)]
PAGES = [README, *sorted(DOCS.glob("*.md"))]
MAKEFILE = (ROOT / "Makefile").read_text(encoding="utf-8")

_FENCE = re.compile(r"^```.*?^```", re.M | re.S)
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6} +(.+?) *$", re.M)
_CITED_PAGE = re.compile(r"\b((?:docs/)?[\w-]+\.md)\b")


def text(page: Path) -> str:
    return page.read_text(encoding="utf-8")


def prose(page: Path) -> str:
    """The page without its code blocks (a `#` there is a comment, a `[x](y)` is code)."""
    return _FENCE.sub("", text(page))


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def sources() -> list[Path]:
    """The repository's code, configuration and pages (not the generated ones, not .venv, .git, .aws-sam)."""
    found: list[Path] = []
    for folder, folders, files in os.walk(ROOT):
        folders[:] = [f for f in folders if not f.startswith((".", "__"))]
        found += [Path(folder, f) for f in files if f.endswith((".py", ".md", ".yaml", ".toml")) or f == "Makefile"]
    return [source for source in found if source.parent != DOCS or source.name not in GENERATED]


def name(page: Path) -> str:
    return str(page.relative_to(ROOT))


def test_the_first_lines_give_the_run_and_the_test_command():
    head = "\n".join(text(README).splitlines()[:8])
    assert "make dev" in head and "make test" in head


def test_the_readme_is_a_front_door():
    assert len(text(README).splitlines()) <= 250, "keep README.md short: move the detail to a page of docs/"


@pytest.mark.parametrize("page", WRITTEN[1:], ids=name)
def test_every_page_says_what_it_is_and_links_back_to_the_readme(page: Path):
    title, blank, description = text(page).splitlines()[:3]
    assert title.startswith("# ") and not blank, f"{name(page)} starts with its title, then a blank line"
    assert description.endswith("[Back to the README](../README.md)"), f"{name(page)}: one line that says what it is"


def test_the_parameter_table_lists_every_template_parameter_with_its_default():
    rows = dict(re.findall(r"^\| `(\w+)` \| `([^`]*)` \|", text(DOCS / "operations.md"), re.M))
    parameters = template()["Parameters"]
    documented = {name: rows[name] for name in parameters if name in rows}
    assert set(documented) == set(parameters), f"undocumented: {sorted(set(parameters) - set(rows))}"
    for name, default in documented.items():
        expected = str(parameters[name].get("Default", ""))
        assert default.strip('"') == expected, f"{name}: docs/operations.md says {default}, template.yaml {expected}"


def make_targets_named(page: Path) -> set[str]:
    """The targets of every `make` command in the code of a page (code spans and fenced blocks)."""
    markdown = text(page)
    code = re.findall(r"^```[^\n]*\n(.*?)^```", markdown, re.M | re.S) + re.findall(r"`([^`\n]+)`", markdown)
    named = set()
    for snippet in code:
        for command in re.findall(r"(?:^|[\s;&|(])make((?:[ \t]+[^\s;&|#]+)+)", snippet, re.M):
            named |= {word for word in command.split() if re.fullmatch(r"[a-z0-9][a-z0-9_-]*", word)}
    return named


def test_every_make_target_the_pages_name_exists():
    targets = set(re.findall(r"^([a-zA-Z0-9_-]+):", MAKEFILE, re.M))
    named = set().union(*map(make_targets_named, PAGES))
    assert {"dev", "test", "e2e"} <= named
    assert named <= targets, f"missing targets: {sorted(named - targets)}"


@pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make (apt-get install make)")
def test_make_help_lists_every_target_and_every_target_the_pages_name():
    listed = subprocess.run(
        ["make", "--no-print-directory", "help"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    shown = set(re.findall(r"^  make (\S+)", listed.stdout, re.M))
    phony = set(re.search(r"^\.PHONY:((?:.*\\\n)*.*)$", MAKEFILE, re.M).group(1).replace("\\", " ").split())
    named = set().union(*map(make_targets_named, PAGES))
    assert "e2e" in shown
    assert phony <= shown, f"not in `make help`: {sorted(phony - shown)}"
    assert named <= shown, f"named in the pages, not in `make help`: {sorted(named - shown)}"


def test_every_function_of_the_template_has_a_ready_event_named_in_the_pages():
    functions = [name for name, res in template()["Resources"].items() if res["Type"] == "AWS::Serverless::Function"]
    pages = "\n".join(text(page) for page in WRITTEN)
    for function in functions:
        match = re.search(rf"make invoke FUNCTION={function} EVENT=(events/[\w.]+\.json)", pages)
        assert match, f"no page shows `make invoke FUNCTION={function} EVENT=events/...`"
        assert (ROOT / match.group(1)).exists(), match.group(1)


@pytest.mark.parametrize("page", PAGES, ids=name)
def test_every_link_of_a_page_reaches_a_file_and_a_heading_of_the_repository(page: Path):
    broken = []
    for target in _LINK.findall(prose(page)):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path, _, fragment = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif fragment and linked.suffix == ".md" and fragment not in map(anchor, _HEADING.findall(prose(linked))):
            broken.append(f"{target}: no such heading")
    assert not broken, f"{name(page)}: {broken}"


def test_every_page_that_the_repository_cites_exists():
    """Docstrings, comments, the template and the pages name pages (``docs/api.md``); each one is there."""
    missing = {
        f"{source.relative_to(ROOT)}: {cited}"
        for source in sources()
        for cited in _CITED_PAGE.findall(source.read_text(encoding="utf-8"))
        if not (ROOT / cited).exists() and not (DOCS / cited).exists()
    }
    assert not missing, sorted(missing)
