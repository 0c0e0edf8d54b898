-- Shared by the request scripts: numbers each thread, and ends the run with one
-- machine-readable line that benchmarks/load.py parses:
--   WRK_JSON {"requests": ..., "p50_us": ..., "max_counter": ...}
-- max_counter is the most requests one thread made: the harness moves its pool
-- of single-use codes past threads * max_counter after the run.
local summary = {}
local threads = {}

function summary.setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

function summary.done(result, latency, requests)
   local max_counter = 0
   for _, thread in ipairs(threads) do
      local counter = thread:get("counter") or 0
      if counter > max_counter then
         max_counter = counter
      end
   end
   local errors = result.errors
   io.write(string.format(
      'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
      '"p50_us": %d, "p90_us": %d, "p99_us": %d, "mean_us": %.1f, "max_us": %d, ' ..
      '"connect_errors": %d, "read_errors": %d, "write_errors": %d, ' ..
      '"status_errors": %d, "timeouts": %d, "threads": %d, "max_counter": %d}\n',
      result.requests, result.duration, result.bytes,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.mean, latency.max,
      errors.connect, errors.read, errors.write, errors.status, errors.timeout,
      #threads, max_counter))
end

return summary
