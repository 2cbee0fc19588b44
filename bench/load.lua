-- wrk script: POST the file named by $BENCH_BODY_FILE (headers come from wrk -H),
-- and print the run's figures as one JSON line prefixed "BENCH_JSON " for bench_proxy.py.
local f = assert(io.open(os.getenv("BENCH_BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()

function done(summary, latency, requests)
  local e = summary.errors
  local out = string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"status_errors":%d,"timeouts":%d,"mean_us":%.1f,"max_us":%d',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.max)
  for _, p in ipairs({50, 90, 99, 99.9}) do
    out = out .. string.format(',"p%s_us":%d', tostring(p):gsub("%.", "_"), latency:percentile(p))
  end
  io.write("BENCH_JSON " .. out .. "}\n")
end
