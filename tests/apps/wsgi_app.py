"""A tiny WSGI app for soad's integration tests (gunicorn, uwsgi).

GET /slow logs "slow request begins" to stderr and sleeps 0.3 s before
answering (an in-flight request for the graceful-stop tests); every
other path answers "hello from PID".
"""
import os
import sys
import time


def application(environ, start_response):
    if environ.get("PATH_INFO") == "/slow":
        print("slow request begins in pid %d" % os.getpid(),
              file=sys.stderr, flush=True)
        time.sleep(0.3)
        body = b"slow hello from %d\n" % os.getpid()
    else:
        body = b"hello from %d\n" % os.getpid()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]


app = application
