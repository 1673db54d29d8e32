"""Reads what the timing patch recorded (DIAG_FILE.<pid> files) and, if present, sample.py's CSVs, and prints the
measured run per 100 ms: requests finished, those over 40 ms, the longest group write, the consumer's messages handled,
and CPU ticks (10 ms) per process; then, for the run's first 1.5 s, each saga transaction of the consumer (start,
duration, messages), catalog-api's requests per 100 ms, and the methods the runtime compiled per process. The measured
run is the last stretch of about 10 s of requests without a pause over 0.8 s (order.sh's other runs are shorter, or
longer, or end with such a pause); WINDOW picks another such stretch (0: the first, as with BENCH_REPEAT=1).
Usage: python3 analyze.py DIR [WINDOW]   (DIR holds d.<pid> files, as with DIAG_FILE=DIR/d)"""
import collections
import glob
import os
import sys

d = sys.argv[1]
requests, groups, transactions, catalog, compiled = [], [], [], [], []
for path in glob.glob(f"{d}/d.*"):
    for line in open(path):
        f = line.strip().split(",", 4)
        if f[0] == "R":
            requests.append((int(f[1]), int(f[2])))
        elif f[0] == "G" and f[1] == "orders.place":
            groups.append((int(f[2]), int(f[3])))
        elif f[0] == "H":
            transactions.append((int(f[1]), int(f[2]), int(f[3])))
        elif f[0] == "Q":
            catalog.append((int(f[2]), f[3] + " " + "/".join(f[4].split("/")[:5])))
        elif f[0] == "J":
            compiled.append((int(f[1]), path.rsplit(".", 1)[1], f[4]))
requests.sort()
phases, current = [], [requests[0]]
for r in requests[1:]:
    if r[0] - current[-1][0] > 0.8e9:
        phases.append(current)
        current = []
    current.append(r)
phases.append(current)
window = [p for p in phases if 9e9 <= p[-1][0] - p[0][0] <= 11e9][int(sys.argv[2]) if len(sys.argv) > 2 else -1]
start = window[0][0]


def p99(rs):
    ordered = sorted(b - a for a, b in rs)
    return ordered[int(len(ordered) * 0.99)] / 1e6


print(f"server-side: {len(window)} requests, P99 {p99(window):.1f} ms, without the first second "
      f"{p99([r for r in window if r[0] >= start + 1e9]):.1f} ms")
B = 100_000_000
done = collections.Counter((b - start) // B for a, b in window)
slow = collections.Counter((b - start) // B for a, b in window if b - a > 40e6)
longest = collections.defaultdict(float)
for a, b in groups:
    longest[(a - start) // B] = max(longest[(a - start) // B], (b - a) / 1e6)
consumed = collections.Counter()
for a, _, n in transactions:
    consumed[(a - start) // B] += n
cpu, names = {}, []
if os.path.exists(f"{d}/cpu.csv"):
    rows = [line.strip().split(",") for line in open(f"{d}/cpu.csv")]
    names = rows[0][1:]
    samples = [(int(r[0]), [int(x) if x else 0 for x in r[1:]]) for r in rows[1:]]
    for (t0, v0), (t1, v1) in zip(samples, samples[1:]):
        bucket = cpu.setdefault((t1 - start) // B, [0] * len(names))
        for i, (a, b) in enumerate(zip(v0, v1)):
            bucket[i] += max(0, b - a) if a else 0
print("100 ms  done  >40ms  longest-group  consumed | " + " ".join(names))
for b in range(0, int((window[-1][0] - start) // B) + 1):
    print(f"{b:6d} {done[b]:5d} {slow[b]:6d} {longest[b]:14.1f} {consumed[b]:9d} | " + " ".join(f"{x:3d}" for x in cpu.get(b, [])))

first = start + 1.5e9
print("saga transactions in the first 1.5 s (start ms, duration ms, messages):")
print("  " + ", ".join(f"{(a - start) / 1e6:.0f}/{(b - a) / 1e6:.0f}/{n}" for a, b, n in sorted(transactions) if start - 1e8 <= a < first))
calls = collections.Counter(((b - start) // B, kind) for b, kind in catalog if start <= b < first)
print("catalog-api requests per 100 ms in the first 1.5 s: " + ", ".join(f"{k}: {kind} {n}" for (k, kind), n in sorted(calls.items())))
jit = collections.Counter(pid for t, pid, _ in compiled if start <= t < first)
print("methods compiled in the first 1.5 s, per process (pid): " + (", ".join(f"{pid}: {n}" for pid, n in jit.items()) or "none recorded"))
for t, pid, name in [c for c in sorted(compiled) if start <= c[0] < first][:40]:
    print(f"  {(t - start) / 1e6:6.0f} ms {pid} {name}")
