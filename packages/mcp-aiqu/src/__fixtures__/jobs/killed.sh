#!/bin/sh
# Killed by SIGKILL without anyone asking: what the kernel's OOM killer does to a job.
echo "allocating host memory"
kill -9 $$
