"""The container's memory and CPU limits, read from its cgroup, so alerts can say "85 % of the limit".

cgroup v2 (`memory.max`, `cpu.max`) first, then v1 (`memory.limit_in_bytes`,
`cpu.cfs_quota_us` / `cpu.cfs_period_us`). The cgroup this process is in and every ancestor
that is visible are read, and the tightest limit wins (a pod's limit often sits one level up).
Unlimited or unreadable means no sample at all: a made-up number would be worse than none.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")
V1_UNLIMITED = 1 << 62
"""v1 reports "no limit" as a page-rounded LONG_MAX (9223372036854771712); anything this large is none."""


def cgroup_paths(proc_cgroup: Path = PROC_CGROUP) -> dict[str, str]:
    """This process's cgroup per controller ("" for the v2 unified hierarchy)."""
    paths: dict[str, str] = {}
    try:
        lines = proc_cgroup.read_text(encoding="utf-8").splitlines()
    except OSError:
        return paths
    for line in lines:
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy == "0" and not controllers:
            paths[""] = path
        for controller in filter(None, controllers.split(",")):
            paths[controller] = path
    return paths


def lineage(mount: Path, path: str) -> Iterator[Path]:
    """`mount/path` and each of its ancestors up to `mount`, those that exist."""
    directory = mount / path.strip("/")
    while True:
        if directory.is_dir():
            yield directory
        if directory == mount or mount not in directory.parents:
            return
        directory = directory.parent


def read_words(path: Path) -> list[str] | None:
    try:
        return path.read_text(encoding="utf-8").split()
    except (OSError, UnicodeDecodeError):
        return None


def tightest(values: Iterator[float | None]) -> float | None:
    limits = [value for value in values if value is not None]
    return min(limits) if limits else None


def v2_memory(directory: Path) -> float | None:
    words = read_words(directory / "memory.max")
    if not words or not words[0].isdigit():
        return None  # "max", missing or garbled
    return float(words[0])


def v2_cpu(directory: Path) -> float | None:
    words = read_words(directory / "cpu.max")
    if not words or len(words) != 2 or not words[0].isdigit() or not words[1].isdigit() or words[1] == "0":
        return None  # "max 100000" is unlimited
    return int(words[0]) / int(words[1])


def v1_memory(directory: Path) -> float | None:
    words = read_words(directory / "memory.limit_in_bytes")
    if not words or not words[0].isdigit() or int(words[0]) >= V1_UNLIMITED:
        return None
    return float(words[0])


def v1_cpu(directory: Path) -> float | None:
    quota, period = read_words(directory / "cpu.cfs_quota_us"), read_words(directory / "cpu.cfs_period_us")
    if not quota or not period or not quota[0].isdigit() or not period[0].isdigit() or period[0] == "0":
        return None  # a quota of -1 is unlimited
    return int(quota[0]) / int(period[0])


def memory_limit_bytes(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> float | None:
    """The memory limit in bytes, or None when there is none (or it cannot be read)."""
    paths = cgroup_paths(proc_cgroup)
    if (root / "cgroup.controllers").is_file():
        return tightest(v2_memory(d) for d in lineage(root, paths.get("", "/")))
    if "memory" in paths:
        return tightest(v1_memory(d) for d in lineage(root / "memory", paths["memory"]))
    return None


def cpu_limit_cores(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> float | None:
    """The CPU limit in cores (quota / period), or None when there is none (or it cannot be read)."""
    paths = cgroup_paths(proc_cgroup)
    if (root / "cgroup.controllers").is_file():
        return tightest(v2_cpu(d) for d in lineage(root, paths.get("", "/")))
    if "cpu" in paths:
        mounts = [root / name for name in ("cpu", "cpu,cpuacct", "cpuacct,cpu") if (root / name).is_dir()]
        return tightest(v1_cpu(d) for mount in mounts[:1] for d in lineage(mount, paths["cpu"]))
    return None


class ContainerLimits(Collector):
    """`mcp_server_container_memory_limit_bytes` and `mcp_server_container_cpu_limit_cores`, read
    at each scrape (a limit can change under a running pod); absent when unlimited or unreadable."""

    def __init__(self, root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> None:
        self.root, self.proc_cgroup = root, proc_cgroup

    def collect(self) -> Iterator[GaugeMetricFamily]:
        memory = memory_limit_bytes(self.root, self.proc_cgroup)
        if memory is not None:
            yield GaugeMetricFamily(
                "mcp_server_container_memory_limit_bytes", "Memory limit of this container (cgroup).", value=memory
            )
        cpu = cpu_limit_cores(self.root, self.proc_cgroup)
        if cpu is not None:
            yield GaugeMetricFamily(
                "mcp_server_container_cpu_limit_cores", "CPU limit of this container in cores (cgroup).", value=cpu
            )
