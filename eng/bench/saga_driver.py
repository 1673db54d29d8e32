#!/usr/bin/env python3
"""Places orders for eng/bench/saga.sh: a bounded number, as fast as the threads go or at a fixed rate, each with its own
Idempotency-Key, rotating the buyers' tokens; retries 429/503 after Retry-After with the same key (as a client would).
Standard library only. Usage: saga_driver.py place ORDERS_URL PRODUCT TOKENS_FILE COUNT THREADS RATE (0 = unpaced)."""
import concurrent.futures, http.client, json, sys, threading, time, urllib.parse, uuid
from order_driver import order_body

def place(orders, product, tokens_file, count, threads, rate):
    tokens = open(tokens_file).read().split()
    url = urllib.parse.urlparse(orders)
    body = json.dumps(order_body(product))
    run = uuid.uuid4().hex[:8]
    lock = threading.Lock()
    state = {"next": 0}
    start = time.perf_counter()

    def take():
        with lock:
            i = state["next"]; state["next"] += 1
        if i >= count: return None
        if rate > 0:  # paced: order i leaves at start + i / rate
            delay = start + i / rate - time.perf_counter()
            if delay > 0: time.sleep(delay)
        return i

    def worker(_):
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        placed = 0
        while (i := take()) is not None:
            token, key = tokens[i % len(tokens)], f"saga-{run}-{i}"
            for _ in range(100):
                try:
                    conn.request("POST", "/api/orders", body, {"Content-Type": "application/json", "Authorization": "Bearer " + token, "Idempotency-Key": key})
                    r = conn.getresponse(); r.read()
                except (http.client.HTTPException, OSError):
                    conn.close(); conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60); continue
                if r.status == 202: placed += 1; break
                if r.status in (429, 503): time.sleep(float(r.getheader("Retry-After") or 1)); continue
                raise RuntimeError(f"POST /api/orders answered {r.status}")
        conn.close()
        return placed

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        placed = sum(pool.map(worker, range(threads)))
    print(f"PLACED={placed}\nPLACE_S={time.perf_counter() - start:.2f}")

if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "place": place(args[0], int(args[1]), args[2], int(args[3]), int(args[4]), float(args[5]))
