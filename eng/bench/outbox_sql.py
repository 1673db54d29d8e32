"""Writes the SQL that eng/bench/outbox-cost.sh feeds to MariaDB: groups of orders as placement writes them (orders,
lines, first history entries, outbox rows, one transaction per group), and after every EVERY groups one relay batch in
the shape of the variant. Usage: outbox_sql.py GROUPS GROUP_SIZE VARIANT SEED FIRST_SEQ EVERY > file.sql

Variants (the relay's statements; rows are "published" by reading them):
  inserts     no relay: placement's INSERTs alone
  locked      claim FOR UPDATE SKIP LOCKED, UPDATE sent_at by seq (the relay until session 11)
  plain       claim by plain reads, UPDATE sent_at by seq (the relay with its lease, session 11)
  plaindel    claim by plain reads, DELETE by seq instead of marking
  cursor      read past a stored position, one UPDATE of that position per batch (no per-row mark)
  marks       read past a position, INSERT each seq into a table of sent marks
"""
import json
import random
import sys
import time
import uuid

groups, size, variant, seed, seq, every = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
random.seed(seed)
columns = "seq, event_id, event_type, body, trace_parent, trace_state, created_at"
fresh = f"SELECT {columns} FROM outbox FORCE INDEX (ix_outbox_due) WHERE sent_at IS NULL AND next_attempt_at IS NULL ORDER BY seq LIMIT 256"
due = f"SELECT {columns} FROM outbox FORCE INDEX (ix_outbox_due) WHERE sent_at IS NULL AND next_attempt_at <= NOW(6) ORDER BY seq LIMIT 256"
address = json.dumps({"name": "Bench Buyer", "line1": "1 Test Street", "line2": None, "city": "Town", "postalCode": "12345", "country": "NL"})


def quote(text):
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def relay(pending):
    ids = ",".join(map(str, pending))
    first, last = pending[0], pending[-1]
    if variant == "locked":
        return f"BEGIN;{due} FOR UPDATE SKIP LOCKED;{fresh} FOR UPDATE SKIP LOCKED;UPDATE outbox SET sent_at = NOW(6) WHERE seq IN ({ids});COMMIT;"
    if variant == "plain":
        return f"BEGIN;{due};{fresh};UPDATE outbox SET sent_at = NOW(6) WHERE seq IN ({ids});COMMIT;"
    if variant == "plaindel":
        return f"BEGIN;{due};{fresh};DELETE FROM outbox WHERE seq IN ({ids});COMMIT;"
    if variant == "cursor":
        return f"BEGIN;SELECT {columns} FROM outbox WHERE seq > {first - 1} ORDER BY seq LIMIT 256;UPDATE relay_position SET seq = {last};COMMIT;"
    if variant == "marks":
        marks = ",".join(f"({s})" for s in pending)
        return f"BEGIN;SELECT {columns} FROM outbox WHERE seq > {first - 1} ORDER BY seq LIMIT 256;INSERT INTO outbox_sent (seq) VALUES {marks};COMMIT;"
    raise SystemExit(f"unknown variant {variant}")


out = ["SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED;"]
pending = []
for g in range(groups):
    at = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(1_700_000_000 + seed * 100_000 + g)) + f".{random.randint(0, 999_999):06d}"
    orders, lines, history, events = [], [], [], []
    for _ in range(size):
        order = uuid.uuid4().hex
        user = f"user-{random.randint(0, 1999):04d}"
        orders.append(f"({quote(order)},{quote(user)},{quote(uuid.uuid4().hex)},{quote(uuid.uuid4().hex * 2)},'Submitted',NULL,1,19.99,"
                      f"{quote(address)},'card',NULL,{quote(at)},{quote(at)})")
        lines.append(f"({quote(order)},1,'Staple product',19.99,1)")
        history.append(f"({quote(order)},1,'Submitted',NULL,{quote(at)})")
        body = json.dumps({"id": str(uuid.uuid4()), "type": "OrderSubmitted", "occurredAt": at, "data": {
            "orderId": order, "userId": user, "total": 19.99, "paymentMethod": "card",
            "lines": [{"productId": 1, "productName": "Staple product", "unitPrice": 19.99, "quantity": 1}]}})
        events.append(f"({quote(str(uuid.uuid4()))},'OrderSubmitted',{quote(body)},'00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01',NULL,{quote(at)})")
        pending.append(seq)
        seq += 1
    out.append("BEGIN;"
               "INSERT INTO orders (id, user_id, idempotency_key, request_hash, status, status_reason, seq, total, shipping_address, "
               "payment_method, callback_url, created_at, status_changed_at) VALUES " + ",".join(orders) + ";"
               "INSERT INTO order_items (order_id, product_id, product_name, unit_price, quantity) VALUES " + ",".join(lines) + ";"
               "INSERT INTO order_history (order_id, seq, status, reason, occurred_at) VALUES " + ",".join(history) + ";"
               "INSERT INTO outbox (event_id, event_type, body, trace_parent, trace_state, created_at) VALUES " + ",".join(events) + ";"
               "COMMIT;")
    if variant != "inserts" and (g + 1) % every == 0:
        out.append(relay(pending))
        pending = []
print("\n".join(out))
