"""Process metrics for the whole pod when `--workers N` runs several processes.

prometheus_client's ProcessCollector describes only the process that serves the scrape. With
workers, that is the supervisor, and the workers (which do the work) would be missing. This
collector reads `/proc` at scrape time for the supervisor and every process below it, and
exports the same names as ProcessCollector: CPU and memory summed, file descriptors summed,
start time the oldest. CPU includes each process's reaped children (`cutime`, `cstime`), so a
worker that died and was replaced keeps its seconds in the total and the counter never falls.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

PROC = Path("/proc")


@dataclass(frozen=True)
class ProcessSample:
    pid: int
    parent: int
    cpu_seconds: float
    resident_bytes: int
    open_fds: int
    start_time_seconds: float


def boot_time(proc: Path = PROC) -> float | None:
    try:
        for line in (proc / "stat").read_text(encoding="utf-8").splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except OSError:
        return None
    return None


def sample(pid: int, proc: Path = PROC, *, boot: float = 0.0) -> ProcessSample | None:
    """One process's figures, or None when it is gone or unreadable."""
    ticks, page = os.sysconf("SC_CLK_TCK"), os.sysconf("SC_PAGESIZE")
    base = proc / str(pid)
    try:
        stat = (base / "stat").read_text(encoding="utf-8")
        resident_pages = int((base / "statm").read_text(encoding="utf-8").split()[1])
        open_fds = sum(1 for _fd in (base / "fd").iterdir())
    except (OSError, IndexError, ValueError):
        return None
    # The command name (field 2) may contain spaces and parentheses: the fields follow the last ")".
    fields = stat[stat.rfind(")") + 2 :].split()
    try:
        parent = int(fields[1])
        cpu = sum(int(fields[index]) for index in (11, 12, 13, 14)) / ticks  # utime stime cutime cstime
        started = boot + int(fields[19]) / ticks
    except (IndexError, ValueError):
        return None
    return ProcessSample(pid, parent, cpu, resident_pages * page, open_fds, started)


def pod_samples(root: int, proc: Path = PROC) -> list[ProcessSample]:
    """`root` and every process descended from it."""
    boot = boot_time(proc) or 0.0
    everyone = {}
    for entry in proc.iterdir() if proc.is_dir() else ():
        if entry.name.isdigit() and (found := sample(int(entry.name), proc, boot=boot)) is not None:
            everyone[found.pid] = found
    if root not in everyone:
        return []
    children: dict[int, list[int]] = {}
    for found in everyone.values():
        children.setdefault(found.parent, []).append(found.pid)
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(everyone[pid])
        pending.extend(child for child in children.get(pid, ()) if child != pid)
    return tree


class PodProcessCollector(Collector):
    """The standard `process_*` metrics summed over `root` and its descendants."""

    def __init__(self, root: int | None = None, proc: Path = PROC) -> None:
        self.root = os.getpid() if root is None else root
        self.proc = proc

    def pids(self) -> set[int]:
        """The processes counted now (the supervisor and its workers)."""
        return {found.pid for found in pod_samples(self.root, self.proc)}

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        tree = pod_samples(self.root, self.proc)
        if not tree:
            return
        yield CounterMetricFamily(
            "process_cpu_seconds_total",
            "User and system CPU seconds of the pod's processes (their reaped children included).",
            value=sum(found.cpu_seconds for found in tree),
        )
        yield GaugeMetricFamily(
            "process_resident_memory_bytes",
            "Resident memory of the pod's processes, summed.",
            value=sum(found.resident_bytes for found in tree),
        )
        yield GaugeMetricFamily(
            "process_open_fds",
            "Open file descriptors of the pod's processes, summed.",
            value=sum(f.open_fds for f in tree),
        )
        yield GaugeMetricFamily(
            "process_start_time_seconds",
            "Start time of the pod's oldest process, in seconds since the epoch.",
            value=min(found.start_time_seconds for found in tree),
        )
