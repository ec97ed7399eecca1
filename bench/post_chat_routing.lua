-- wrk script of the routing benchmark (bench/run.sh, ROUTING=1): the chat request of
-- post_chat.lua, for the model named by the environment variable SY_BENCH_MODEL (a model group of
-- the gateway). It also counts, per response: its status, the deployment that served it
-- (x-sy-deployment) and the attempts it took (x-sy-attempts), and prints the totals at the end
-- as lines starting with "routing:", which run.sh reads:
--   routing: responses N      every response seen
--   routing: p50_us N, p99_us N, max_us N: latency percentiles over all the responses
--   routing: ok N             the 2xx ones
--   routing: attempts N       the sum of x-sy-attempts (upstream attempts, retries included)
--   routing: status S N       per status other than 2xx
--   routing: served ID N      2xx responses per x-sy-deployment ("channel/upstream model")
--
-- The latencies are measured here, from request() to response(), because wrk's own histogram
-- (--latency) is "corrected" for coordinated omission: wrk adds made-up samples below every slow
-- one, which turns the two clusters of this benchmark (answers within a millisecond, answers
-- after 40 ms) into a smear with a p50 in between. Matching a response() to its request() takes
-- one connection per wrk thread: run it with -t equal to -c.
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } sy_timespec;
  int clock_gettime(int clock_id, sy_timespec* tp);
]]
local ts = ffi.new("sy_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000000 + tonumber(ts.tv_nsec) / 1000
end

local model = os.getenv("SY_BENCH_MODEL") or "bench-model"

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench-0123456789abcdef"
wrk.body = '{"model":"' .. model .. '","messages":[' ..
  '{"role":"system","content":"You are a helpful assistant."},' ..
  '{"role":"user","content":"Say hello in five words."}],' ..
  '"max_tokens":32,"temperature":0}'

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

-- Each wrk thread has a Lua state of its own: these are its counters, summed in done().
function init(args)
  started = 0
  latencies = {}
  responses = 0
  ok = 0
  attempts = 0
  statuses = {}
  served = {}
end

function request()
  started = now_us()
  return wrk.format()
end

function response(status, headers, body)
  latencies[#latencies + 1] = now_us() - started
  responses = responses + 1
  local a = tonumber(headers["x-sy-attempts"] or headers["X-Sy-Attempts"] or "")
  if a then attempts = attempts + a end
  if status >= 200 and status < 300 then
    ok = ok + 1
    local d = headers["x-sy-deployment"] or headers["X-Sy-Deployment"] or "(none)"
    served[d] = (served[d] or 0) + 1
  else
    local s = tostring(status)
    statuses[s] = (statuses[s] or 0) + 1
  end
end

function done(summary, latency, requests)
  local total = { responses = 0, ok = 0, attempts = 0 }
  local st, sv, lat = {}, {}, {}
  for _, t in ipairs(threads) do
    for _, v in ipairs(t:get("latencies") or {}) do lat[#lat + 1] = v end
    for k, _ in pairs(total) do
      total[k] = total[k] + (t:get(k) or 0)
    end
    for k, n in pairs(t:get("statuses") or {}) do st[k] = (st[k] or 0) + n end
    for k, n in pairs(t:get("served") or {}) do sv[k] = (sv[k] or 0) + n end
  end
  io.write(string.format("routing: responses %d\n", total.responses))
  io.write(string.format("routing: ok %d\n", total.ok))
  io.write(string.format("routing: attempts %d\n", total.attempts))
  table.sort(lat)
  local function pct(p)
    if #lat == 0 then return 0 end
    return lat[math.max(1, math.ceil(#lat * p / 100))]
  end
  io.write(string.format("routing: p50_us %.0f\n", pct(50)))
  io.write(string.format("routing: p99_us %.0f\n", pct(99)))
  io.write(string.format("routing: max_us %.0f\n", pct(100)))
  for k, n in pairs(st) do io.write(string.format("routing: status %s %d\n", k, n)) end
  for k, n in pairs(sv) do io.write(string.format("routing: served %s %d\n", k, n)) end
end
