-- POST /api/orders with a unique Idempotency-Key per request, rotating the buyers' tokens (the per-user rate limit
-- allows each buyer 10 orders/s), for eng/bench/order.sh. Reads BENCH_TOKENS (one token a line) and BENCH_PRODUCT.
-- Keys are "<run>-<thread>-<n>": wrk gives each thread its own Lua state with the same unseeded generator, so both the
-- run and the thread must be part of the key, or the threads (and later runs) would send each other's keys and
-- measure replays instead of orders.
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = line end
local product = os.getenv("BENCH_PRODUCT")
local body = '{"items":[{"productId":' .. product .. ',"quantity":1}],"shippingAddress":{"name":"Bench","line1":"1 Road","city":"Town","postalCode":"1","country":"NL"},"paymentMethod":"card"}'
local counter = 0
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
  thread:set("run_id", os.time())
end

function init(args)
  counter = 0
end

request = function()
  counter = counter + 1
  local token = tokens[(counter % #tokens) + 1]
  return wrk.format("POST", "/api/orders", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = run_id .. "-" .. thread_id .. "-" .. counter,
  }, body)
end
