"""Fails when `sam build` output holds a compiled extension for another architecture than the template's,
or anything of the local tooling (moto, the local stack) that must never reach Lambda.

Usage: python scripts/check_build_architecture.py .aws-sam/build template.yaml
"""

import sys
from pathlib import Path

from local.template import load_template

# ELF e_machine values
MACHINES = {0x3E: "x86_64", 0xB7: "arm64"}
FORBIDDEN_TOP_LEVEL = {"moto", "local", "werkzeug", "flask", "pytest", "tests"}


def elf_architecture(path: Path) -> str:
    header = path.read_bytes()[:20]
    if header[:4] != b"\x7fELF":
        return "not-elf"
    return MACHINES.get(int.from_bytes(header[18:20], "little"), f"machine-{header[18:20].hex()}")


def main(build_dir: Path, template_path: Path) -> int:
    template = load_template(template_path)
    expected = {"x86_64": "x86_64", "arm64": "arm64"}[template["Globals"]["Function"]["Architectures"][0]]
    problems = []
    extensions = sorted(build_dir.rglob("*.so")) + sorted(build_dir.rglob("*.so.*"))
    for extension in extensions:
        found = elf_architecture(extension)
        if found != expected:
            problems.append(f"{extension}: {found}, expected {expected}")
    for artifact in build_dir.iterdir():
        if not artifact.is_dir():
            continue
        roots = [artifact, artifact / "python"]
        for root in roots:
            for name in FORBIDDEN_TOP_LEVEL:
                if (root / name).exists():
                    problems.append(f"{root / name}: local tooling must not be deployed")
    for problem in problems:
        print(problem)
    print(f"checked {len(extensions)} compiled extensions in {build_dir}: all {expected}" if not problems else "")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
