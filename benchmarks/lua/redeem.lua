-- POST /v1/redemptions: a unique order id, customer and Idempotency-Key on every
-- request, and a code of the pool M<lo> .. M<lo+span-1> that no other request
-- of this run takes (thread t of T takes lo + t, lo + t + T, ...); span 1: always
-- M<lo> (one hot code).
-- wrk -s redeem.lua URL -- API_KEY LO SPAN RUN_TAG THREADS
local summary = require("summary")
setup = summary.setup
done = summary.done

counter = 0

function init(args)
   key, lo, span, tag = args[1], tonumber(args[2]), tonumber(args[3]), args[4]
   nthreads = tonumber(args[5])
   math.randomseed(os.time() * 1000 + tid * 7919)
   headers = {
      ["Authorization"] = "Bearer " .. key,
      ["Content-Type"] = "application/json",
   }
end

local body = '{"code": "M%08d", "order_id": "o%s-%d-%d", "customer_id": "c%s-%d-%d", ' ..
   '"cart": {"currency": "EUR", "shipping": 490, "items": [{"sku": "TSHIRT-1", ' ..
   '"quantity": 2, "unit_price": 2500, "categories": ["summer"]}]}}'

function request()
   local index = lo + (tid + nthreads * counter) % span
   counter = counter + 1
   headers["Idempotency-Key"] = string.format("k%s-%d-%d-%d", tag, tid, counter,
      math.random(0, 999999999))
   return wrk.format("POST", "/v1/redemptions", headers,
      string.format(body, index, tag, tid, counter, tag, tid, counter))
end
