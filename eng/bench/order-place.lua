-- POST /api/orders with a unique Idempotency-Key per request, rotating the buyers' tokens (the per-user rate limit
-- allows each buyer 10 orders/s), for eng/bench/order.sh. Reads BENCH_TOKENS (one token a line) and BENCH_PRODUCT.
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = line end
local product = os.getenv("BENCH_PRODUCT")
local body = '{"items":[{"productId":' .. product .. ',"quantity":1}],"shippingAddress":{"name":"Bench","line1":"1 Road","city":"Town","postalCode":"1","country":"NL"},"paymentMethod":"card"}'
local counter = 0
local prefix = ""

function setup(thread)
  thread:set("prefix", tostring(math.random(1, 1e9)))
end

function init(args)
  prefix = prefix .. tostring(math.random(1, 1e9)) .. "-"
end

request = function()
  counter = counter + 1
  local token = tokens[(counter % #tokens) + 1]
  return wrk.format("POST", "/api/orders", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = prefix .. counter,
  }, body)
end
