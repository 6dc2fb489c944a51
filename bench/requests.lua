-- wrk script for bench/http_bench.py: each request is picked at random from a file of
-- prepared requests (one per line: METHOD <tab> PATH <tab> BEARER <tab> JSON BODY), so the
-- server sees varied keys instead of one cached answer. Run as:
--   wrk -s bench/requests.lua http://127.0.0.1:PORT -- <request file> <seed>
-- Prints one line "BENCH_RESULT {json}" at the end; non-2xx answers are counted here because
-- wrk itself counts only statuses above 399.

local prepared = {}
local threads = {}
non2xx = 0
last_bad = 0

function setup(thread)
   table.insert(threads, thread)
   thread:set("thread_no", #threads)
end

function init(args)
   local seed = tonumber(args[2] or "1") or 1
   math.randomseed(seed * 7919 + (thread_no or 0))
   for line in io.lines(args[1]) do
      local method, path, bearer, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      if method then
         -- nginx in front replaces X-Forwarded-For and sets the scheme (deploy/nginx.conf).
         local headers = { ["X-Forwarded-For"] = "203.0.113.7", ["X-Forwarded-Proto"] = "https" }
         if bearer ~= "" then headers["Authorization"] = "Bearer " .. bearer end
         if body ~= "" then
            headers["Content-Type"] = "application/json"
         else
            body = nil
         end
         prepared[#prepared + 1] = wrk.format(method, path, headers, body)
      end
   end
   if #prepared == 0 then
      error("no requests in " .. tostring(args[1]))
   end
end

function request()
   return prepared[math.random(#prepared)]
end

function response(status, headers, body)
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
      last_bad = status
   end
end

function done(summary, latency, requests)
   local bad, last = 0, 0
   for _, thread in ipairs(threads) do
      bad = bad + (thread:get("non2xx") or 0)
      local status = thread:get("last_bad") or 0
      if status ~= 0 then last = status end
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_RESULT {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, '
         .. '"timeout": %d, "non2xx": %d, "last_bad_status": %d, "p50_us": %d, "p99_us": %d, '
         .. '"max_us": %d}\n',
      summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, bad, last,
      latency:percentile(50), latency:percentile(99), latency.max))
end
