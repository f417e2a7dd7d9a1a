-- Distinct RapidPro referral bodies for wrk: a new run uuid per request, so nothing is a duplicate.
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() + tid * 7919)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Token " .. (os.getenv("BENCH_TOKEN") or "bench-token-0123456789")
  responses_2xx = 0
  responses_other = 0
end

local function uuid(n)
  return string.format("%08x-%04x-4%03x-8%03x-%012x", tid, math.random(0, 0xffff), math.random(0, 0xfff), math.random(0, 0xfff), n)
end

function request()
  counter = counter + 1
  local body = '{"contact":{"uuid":"' .. uuid(counter) .. '","urn":"tel:+250788000000"},'
    .. '"flow":{"uuid":"649754a7-5692-4b14-a1a9-e4c5fe4d18b4"},"run":{"uuid":"' .. uuid(counter + 1000000000) .. '"},'
    .. '"results":{"concern":{"value":"bench message","category":"All Responses"},"age":{"value":"12","category":"Valid"}}}'
  return wrk.format(nil, "/webhooks/rapidpro/referral", nil, body)
end

function response(status, headers, body)
  if status >= 200 and status < 300 then responses_2xx = responses_2xx + 1 else responses_other = responses_other + 1 end
end

function done(summary, latency, requests)
  local other = 0
  for _, t in ipairs(threads) do other = other + (t:get("responses_other") or 0) end
  io.write(string.format("RESULT rps=%.1f p50=%.3f p99=%.3f non2xx=%d requests=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    other + summary.errors.status, summary.requests))
end
