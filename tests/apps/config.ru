# A tiny Rack app for soad's integration tests (puma).
# GET /slow logs "slow request begins" to stderr and sleeps 0.3 s; every
# other path answers "hello from PID".
$stderr.sync = true
run lambda { |env|
  if env["PATH_INFO"] == "/slow"
    $stderr.puts "slow request begins in pid #{Process.pid}"
    sleep 0.3
    body = "slow hello from #{Process.pid}\n"
  else
    body = "hello from #{Process.pid}\n"
  end
  [200, { "Content-Type" => "text/plain",
          "Content-Length" => body.bytesize.to_s }, [body]]
}
