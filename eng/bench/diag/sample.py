"""CPU of the benchmark's processes, and of order-api per thread name, every 50 ms, stamped with CLOCK_MONOTONIC (the
clock of .NET's Stopwatch here, so the samples line up with the timing patch's records).
Usage: python3 sample.py OUT_DIR SECONDS   (writes OUT_DIR/cpu.csv and OUT_DIR/threads.csv; start it before the run)"""
import collections
import os
import sys
import time

out, seconds = sys.argv[1], float(sys.argv[2])
patterns = {"order": b"Bazaar.Order.Api.dll", "worker": b"Bazaar.Worker.dll", "catalog": b"Bazaar.Catalog.Api.dll",
            "mariadb": b"mariadbd", "rabbit": b"beam.smp", "redis": b"redis-server", "wrk": b"wrk"}


def find():
    pids = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        for name, pattern in patterns.items():
            if name not in pids and any(pattern in arg for arg in argv[:2]) and b"python" not in argv[0]:
                pids[name] = pid
    return pids


def ticks(path):
    fields = open(path).read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


pids = {}
names = sorted(patterns)
with open(f"{out}/cpu.csv", "w") as cpu, open(f"{out}/threads.csv", "w") as threads:
    cpu.write("ns," + ",".join(names) + "\n")
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if len(pids) < len(patterns):
            pids.update(find())
        row = []
        for name in names:
            try:
                row.append(str(ticks(f"/proc/{pids[name]}/stat")))
            except (KeyError, OSError):
                pids.pop(name, None)  # not started yet, or gone (wrk runs several times): looked for again
                row.append("")
        now = time.monotonic_ns()
        cpu.write(f"{now}," + ",".join(row) + "\n")
        per_name = collections.Counter()
        if "order" in pids:
            try:
                for tid in os.listdir(f"/proc/{pids['order']}/task"):
                    stat = open(f"/proc/{pids['order']}/task/{tid}/stat").read()
                    per_name[stat[stat.index("(") + 1:stat.rindex(")")]] += ticks(f"/proc/{pids['order']}/task/{tid}/stat")
            except OSError:
                pass
        threads.write(f"{now}," + ";".join(f"{k}={v}" for k, v in sorted(per_name.items())) + "\n")
        time.sleep(0.05)
