# Sleeps for a while (argv[1] seconds), then succeeds: long enough to restart the server meanwhile.
import sys
import time

print("sleeping", flush=True)
time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 3)
print("woke up", flush=True)
