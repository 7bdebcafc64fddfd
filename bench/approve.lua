-- wrk script for the claim approval POST: every request approves a different claim.
-- Run with one thread (-t1): its connections share the list of ids in order.
-- Arguments (after "--"): a file of claim ids (one per line) and the form's CSRF token;
-- the session cookie comes with -H.
local ids = {}
local position = 0

init = function(args)
  for id in io.lines(args[1]) do
    ids[#ids + 1] = id
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.body = "approve-csrf_token=" .. args[2] .. "&approve-amount_cents=&approve-note="
end

request = function()
  position = position + 1
  -- Out of claims: approve the last one again, which the app refuses (409, an error). The
  -- benchmark seeds more claims than a run can use, so errors say something went wrong.
  local id = ids[math.min(position, #ids)]
  return wrk.format(nil, "/operator/claims/" .. id .. "/approve")
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH-JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
