"""Fails when `sam build` output holds a compiled extension for another architecture than the template's,
anything of the local tooling (moto, the local stack) that must never reach Lambda, or a module of the layer
without its bytecode (layers/common/Makefile says why each needs one).

Usage: python scripts/check_build.py .aws-sam/build template.yaml
"""

import importlib.util
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


# A .pyc's flags (bytes 4-8): 0b01 hash-based, 0b10 check the source. Unchecked-hash: loaded without a look at the .py.
UNCHECKED_HASH = 0b01


def missing_bytecode(layer: Path, cache_tag: str) -> list[str]:
    """The modules of the layer whose unchecked-hash .pyc for the runtime (``cache_tag``) is missing or stale."""
    problems = []
    for source in sorted(layer.rglob("*.py")):
        pyc = source.parent / "__pycache__" / f"{source.stem}.{cache_tag}.pyc"
        header = pyc.read_bytes()[:8] if pyc.is_file() else b""
        if header[:4] != importlib.util.MAGIC_NUMBER or int.from_bytes(header[4:8], "little") != UNCHECKED_HASH:
            problems.append(f"{source}: no unchecked-hash {pyc.name} (Lambda would compile it at every cold start)")
    return problems


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
    runtime = template["Globals"]["Function"]["Runtime"]  # python3.13: its bytecode is cpython-313's
    layer = build_dir / "CommonLayer" / "python"
    problems += missing_bytecode(layer, f"cpython-{runtime.removeprefix('python').replace('.', '')}")
    for problem in problems:
        print(problem)
    if not problems:
        modules = sum(1 for _ in layer.rglob("*.py"))
        print(
            f"checked {build_dir}: {len(extensions)} extensions, all {expected}; {modules} layer modules, all compiled"
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
