# Fails the way PyTorch does when the GPU runs out of memory.
import sys

print("epoch 0 loss 0.9")
print("Traceback (most recent call last):", file=sys.stderr)
print('  File "train.py", line 88, in forward', file=sys.stderr)
print("    out = self.backbone(x)", file=sys.stderr)
print(
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 23.64 GiB of which 1.02 GiB is free.",
    file=sys.stderr,
)
sys.exit(1)
