#!/usr/bin/env python3
"""Drives order-api for eng/bench/order.sh: accounts and tokens, 202->Paid latency, and the flash sale.
Standard library only. Usage: order_driver.py setup|latency|flash ... (see order.sh)."""
import concurrent.futures, http.client, json, statistics, subprocess, sys, time, urllib.parse, uuid

def request(base, method, path, body=None, token=None, headers=None, timeout=60):
    url = urllib.parse.urlparse(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    h = {"Content-Type": "application/json"}
    if token: h["Authorization"] = "Bearer " + token
    h.update(headers or {})
    conn.request(method, path, json.dumps(body) if body is not None else None, h)
    r = conn.getresponse(); data = r.read(); conn.close()
    return r.status, (json.loads(data) if data and r.getheader("Content-Type", "").find("json") >= 0 else data), r

def order_body(product, payment="card"):
    return {"items": [{"productId": product, "quantity": 1}],
            "shippingAddress": {"name": "Bench Buyer", "line1": "1 Bench Road", "city": "Loadville", "postalCode": "1000", "country": "NL"},
            "paymentMethod": payment}

def setup(auth, catalog, admin_password, users, out):
    _, login, _ = request(auth, "POST", "/api/auth/login", {"email": "admin@bazaar.local", "password": admin_password})
    admin = login["accessToken"]
    products = []
    for name, stock in (("Bench staple", 10_000_000), ("Flash sale item", 100)):
        status, item, _ = request(catalog, "POST", "/api/catalog/items", {"sku": "bench-" + uuid.uuid4().hex[:12], "name": name,
            "description": "Made by eng/bench/order.sh", "price": 19.99, "brandId": 1, "categoryId": 1, "availableStock": stock}, admin)
        assert status == 201 or status == 200, (status, item)
        products.append(item["id"])
    def account(i):
        email = f"buyer{i}-{uuid.uuid4().hex[:6]}@bench.example"
        request(auth, "POST", "/api/auth/register", {"email": email, "password": "a long bench passphrase", "displayName": f"Buyer {i}"})
        return request(auth, "POST", "/api/auth/login", {"email": email, "password": "a long bench passphrase"})[1]["accessToken"]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        tokens = list(pool.map(account, range(users)))
    with open(out, "w") as f:
        f.write("\n".join(tokens) + "\n")
    print(f"ADMIN_TOKEN={admin}\nSTAPLE={products[0]}\nFLASH={products[1]}")

def latency(orders, product, tokens_file, count):
    tokens = open(tokens_file).read().split()
    samples = []
    for i in range(count):
        token = tokens[i % len(tokens)]
        status, accepted, _ = request(orders, "POST", "/api/orders", order_body(product), token, {"Idempotency-Key": uuid.uuid4().hex})
        t0 = time.perf_counter()
        assert status == 202, (status, accepted)
        url = urllib.parse.urlparse(orders)
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        conn.request("GET", accepted["eventsUrl"], headers={"Authorization": "Bearer " + token, "Accept": "text/event-stream"})
        r = conn.getresponse()
        paid = None
        while paid is None:
            line = r.fp.readline().decode()
            if not line: break
            if line.startswith("data: ") and '"Paid"' in line: paid = time.perf_counter()
        conn.close()
        assert paid is not None, "the stream closed without Paid"
        samples.append((paid - t0) * 1000)
        time.sleep(0.05)  # light load: one order at a time, with a pause
    samples.sort()
    print(f"LAT_N={len(samples)}\nLAT_P50={statistics.median(samples):.1f}\nLAT_P90={samples[int(len(samples)*0.9)-1]:.1f}\nLAT_MAX={samples[-1]:.1f}")

def sql(socket, password, query):
    return subprocess.run(["mariadb", f"--socket={socket}", "-uroot", f"-p{password}", "-N", "-B", "orderdb", "-e", query],
                          check=True, capture_output=True, text=True).stdout

def flash(orders, catalog, product, tokens_file, buyers, admin, socket, password):
    tokens = open(tokens_file).read().split()[:buyers]
    assert len(tokens) == buyers
    def buy(token):
        for _ in range(50):  # a real client retries with the same key when told to come back later
            status, body, r = request(orders, "POST", "/api/orders", order_body(product), token, {"Idempotency-Key": "flash-" + token[-24:]}, timeout=120)
            if status == 202: return body["orderId"]
            if status in (429, 503): time.sleep(float(r.getheader("Retry-After") or 1)); continue
            raise RuntimeError(f"{status}: {body}")
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(256) as pool:
        ids = list(pool.map(buy, tokens))
    accepted_at = time.perf_counter()
    final_query = f"SELECT o.status, COUNT(*) FROM orders o JOIN order_items i ON i.order_id = o.id WHERE i.product_id = {product} GROUP BY o.status"
    while True:
        counts = dict(line.split("\t") for line in sql(socket, password, final_query).split("\n") if line)
        counts = {k: int(v) for k, v in counts.items()}
        if counts.get("Paid", 0) + counts.get("Rejected", 0) + counts.get("Cancelled", 0) >= buyers: break
        if time.perf_counter() - start > 300: break
        time.sleep(0.05)
    done = time.perf_counter()
    _, stock, _ = request(catalog, "GET", f"/api/catalog/items/{product}/stock", token=admin)
    charged = int(sql(socket, password, f"SELECT COUNT(*) FROM simulated_payment_charges c JOIN order_items i ON i.order_id = c.idempotency_key WHERE i.product_id = {product} AND c.state = 'Charged'").strip())
    charged_rejected = int(sql(socket, password, f"SELECT COUNT(*) FROM simulated_payment_charges c JOIN orders o ON o.id = c.idempotency_key JOIN order_items i ON i.order_id = o.id WHERE i.product_id = {product} AND c.state = 'Charged' AND o.status <> 'Paid'").strip())
    print(f"FLASH_ACCEPTED={len(set(ids))}\nFLASH_ACCEPT_S={accepted_at - start:.2f}\nFLASH_TOTAL_S={done - start:.2f}\n"
          f"FLASH_PAID={counts.get('Paid', 0)}\nFLASH_REJECTED={counts.get('Rejected', 0)}\nFLASH_CANCELLED={counts.get('Cancelled', 0)}\n"
          f"FLASH_PENDING={buyers - sum(counts.values())}\nFLASH_AVAILABLE={stock['availableStock']}\nFLASH_RESERVED={stock['reservedStock']}\n"
          f"FLASH_CHARGED={charged}\nFLASH_CHARGED_NOT_PAID={charged_rejected}")

if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "setup": setup(args[0], args[1], args[2], int(args[3]), args[4])
    elif cmd == "latency": latency(args[0], int(args[1]), args[2], int(args[3]))
    elif cmd == "flash": flash(args[0], args[1], int(args[2]), args[3], int(args[4]), args[5], args[6], args[7])
