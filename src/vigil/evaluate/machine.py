"""Where a benchmark ran: CPU, cores, RAM, load, and the library versions that set the speed."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path

import cv2
import dlib


@dataclass(frozen=True, slots=True)
class Machine:
    """Where a benchmark ran."""

    cpu: str
    cores: int
    ram_gib: float
    python: str
    opencv: str
    opencv_threads: int
    dlib: str
    dlib_blas: bool
    dlib_avx: bool
    system: str

    def as_text(self) -> str:
        blas = "with BLAS" if self.dlib_blas else "no BLAS"
        avx = ", AVX" if self.dlib_avx else ""
        return (
            f"{self.cpu}, {self.cores} cores, {self.ram_gib:.1f} GiB RAM; {self.system}; "
            f"Python {self.python}, OpenCV {self.opencv} ({self.opencv_threads} threads), "
            f"dlib {self.dlib} ({blas}{avx})"
        )

    def as_json(self) -> dict[str, object]:
        return {
            "cpu": self.cpu,
            "cores": self.cores,
            "ram_gib": round(self.ram_gib, 2),
            "python": self.python,
            "opencv": self.opencv,
            "opencv_threads": self.opencv_threads,
            "dlib": self.dlib,
            "dlib_blas": self.dlib_blas,
            "dlib_avx": self.dlib_avx,
            "system": self.system,
        }


def machine_info() -> Machine:
    """The CPU model (from /proc/cpuinfo), cores, RAM and the library versions that set the speed."""
    return Machine(
        cpu=_proc_field(Path("/proc/cpuinfo"), "model name") or platform.processor() or "unknown CPU",
        cores=os.cpu_count() or 1,
        ram_gib=_ram_gib(),
        python=platform.python_version(),
        opencv=cv2.__version__,
        opencv_threads=cv2.getNumThreads(),
        dlib=str(dlib.__version__),
        dlib_blas=bool(getattr(dlib, "DLIB_USE_BLAS", False)),
        dlib_avx=bool(getattr(dlib, "USE_AVX_INSTRUCTIONS", False)),
        system=f"{platform.system()} {platform.release()} {platform.machine()}",
    )


def load_average() -> tuple[float, float, float]:
    """The 1, 5 and 15 minute load averages (zeros where the OS does not report them)."""
    try:
        return os.getloadavg()
    except OSError:
        return (0.0, 0.0, 0.0)


def _proc_field(path: Path, key: str) -> str | None:
    try:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            name, _, value = line.partition(":")
            if name.strip() == key:
                return value.strip()
    except OSError:
        return None
    return None


def _ram_gib() -> float:
    value = _proc_field(Path("/proc/meminfo"), "MemTotal")  # "16318412 kB"
    if value is not None and value.split()[0].isdigit():
        return int(value.split()[0]) / 1024**2
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    except (ValueError, OSError):
        return 0.0
