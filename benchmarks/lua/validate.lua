-- POST /v1/validations with a different cart customer on every request, and
--   a random code of the pool M<lo> .. M<lo+span-1> (many codes), or
--   span 1: always M<lo> (one hot code).
-- wrk -s validate.lua URL -- API_KEY LO SPAN RUN_TAG [PATH]
local summary = require("summary")
setup = summary.setup
done = summary.done

counter = 0

function init(args)
   key, lo, span, tag = args[1], tonumber(args[2]), tonumber(args[3]), args[4]
   path = args[5] or "/v1/validations"
   math.randomseed(os.time() * 1000 + tid * 7919)
   headers = {
      ["Authorization"] = "Bearer " .. key,
      ["Content-Type"] = "application/json",
   }
end

local body = '{"code": "M%08d", "customer_id": "v%s-%d-%d", "cart": {"currency": "EUR", ' ..
   '"shipping": 490, "items": [{"sku": "TSHIRT-1", "quantity": 2, "unit_price": 2500, ' ..
   '"categories": ["summer"]}]}}'

function request()
   counter = counter + 1
   local index = lo + math.random(0, span - 1)
   return wrk.format("POST", path, headers,
      string.format(body, index, tag, tid, counter))
end
