-- wrk script for run.sh's connrate workload: at the end, one JSON line with
-- wrk's totals (latency in microseconds), parsed instead of wrk's text.
-- errors.status counts responses with a status above 399 (wrk's "Non-2xx or
-- 3xx responses").
done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format('{"requests":%d,"duration_us":%d,"bytes":%d,' ..
		'"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
		'"p50_us":%.1f,"p99_us":%.1f}\n',
		summary.requests, summary.duration, summary.bytes,
		e.connect, e.read, e.write, e.status, e.timeout,
		latency:percentile(50), latency:percentile(99)))
end
