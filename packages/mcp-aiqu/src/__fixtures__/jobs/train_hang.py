# Runs until stopped. With --ignore-term it ignores SIGTERM, so only SIGKILL ends it.
import signal
import sys
import time

if "--ignore-term" in sys.argv:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("started, waiting", flush=True)
while True:
    time.sleep(0.2)
