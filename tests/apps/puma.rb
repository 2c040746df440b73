# puma config for soad's tests: serve exactly the sockets soad passes
# (LISTEN_FDS), and exit 0 after the graceful stop on SIGTERM instead of
# re-raising the signal.
bind_to_activated_sockets "only"
raise_exception_on_sigterm false
