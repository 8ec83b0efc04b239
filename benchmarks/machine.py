"""The machine a run happened on: CPU model, cores, Python version, operating system."""

import os
import platform
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True)
class Machine:
    """What a reader needs to compare a run with another."""

    cpu: str
    cores: int
    python: str
    system: str
    when: str

    def describe(self) -> str:
        return f"{self.cpu}, {self.cores} cores, Python {self.python}, {self.system}; run at {self.when}"


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def this_machine() -> Machine:
    """The machine running this process."""
    return Machine(
        cpu=_cpu_model(),
        cores=os.cpu_count() or 1,
        python=sys.version.split()[0],
        system=f"{platform.system()} {platform.release()} {platform.machine()}",
        when=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )
