"""What the bench reads from the machine (Linux /proc and getrusage): the CPU and memory of the
processes taking part, and how busy the whole machine is, to wait for quiet before each
measurement and to notice work on the machine that is not the bench's.
"""

from __future__ import annotations

import os
import resource
import time

_TICK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def tree_cpu_seconds(root: int) -> float:
    """CPU used so far by `root`, its reaped children and its live children (one level:
    PostgreSQL's backends under the postmaster, gunicorn's workers under the master)."""
    fields = _stat_fields(root)
    total = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            child = _stat_fields(int(entry.name))
        except OSError:
            continue
        if int(child[1]) == root:  # ppid
            total += int(child[11]) + int(child[12])
    return total / _TICK


def children_cpu_seconds() -> float:
    """CPU of this process's reaped children so far (the drain workers, once they exit)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def self_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def vm_kib(pid: int, field: str) -> int | None:
    """A memory figure of /proc/PID/status in KiB (VmRSS, VmHWM), None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cpu_times() -> tuple[int, int]:
    with open("/proc/stat") as f:
        values = [int(x) for x in f.readline().split()[1:]]
    busy = values[0] + values[1] + values[2] + values[5] + values[6]  # user nice system irq softirq
    return busy, sum(values)


def machine_busy_seconds() -> float:
    """CPU seconds all cores have spent busy since boot (user, nice, system, irq)."""
    return _cpu_times()[0] / _TICK


def settle(max_wait: float = 2.0, busy_below: float = 0.15) -> float:
    """Wait (up to max_wait) until the machine is nearly idle: the previous measurement's
    after-effects (PostgreSQL writing, autovacuum, exiting processes) must not land on the
    next one. Returns the seconds waited."""
    started = time.monotonic()
    while True:
        busy0, total0 = _cpu_times()
        time.sleep(0.2)
        busy1, total1 = _cpu_times()
        fraction = (busy1 - busy0) / max(1, total1 - total0)
        waited = time.monotonic() - started
        if fraction < busy_below or waited >= max_wait:
            return waited
