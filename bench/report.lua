-- wrk script for GET pages: print the run's figures as one JSON line (see bench/run.py).

-- A browser keeps the cookie a response sets: the session's "last seen" stamp is renewed
-- once a minute (voucher/sessions.py), and a client that went on sending the sign-in's
-- cookie would have every request after the first minute sign a new one, which no
-- browser causes. The cookie comes with -H; a newer one replaces it here.
response = function(status, headers, body)
  local set = headers["Set-Cookie"]
  if set then
    local session = set:match("^(voucher_session=[^;]*)")
    if session then
      wrk.headers["Cookie"] = session
    end
  end
end

request = function()
  return wrk.format()
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
