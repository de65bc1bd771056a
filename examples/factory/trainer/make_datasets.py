"""Generates the example workspace's YOLO datasets: two models' data, two versions each.

Images are small greyscale PNGs of a textured surface with defects drawn on it; each defect's
box is written as a YOLO label. Version v2 adds images and shifts the class balance, the way a
fresh collection from the floor does. Deterministic: the same seed gives the same files.

    python3 make_datasets.py <datasets-root>
"""

from __future__ import annotations

import os
import sys

import numpy as np

from pngio import write_png

SIZE = 64

DATASETS = {
    "weld-defect": {
        "classes": ["porosity", "crack", "spatter"],
        "versions": {
            "v1": {"train": 48, "val": 16, "weights": [0.5, 0.3, 0.2], "seed": 1},
            "v2": {"train": 72, "val": 20, "weights": [0.35, 0.35, 0.3], "seed": 2},
        },
    },
    "pcb-inspect": {
        "classes": ["bridge", "missing", "tombstone"],
        "versions": {
            "v1": {"train": 48, "val": 16, "weights": [0.4, 0.4, 0.2], "seed": 3},
            "v2": {"train": 64, "val": 16, "weights": [0.2, 0.3, 0.5], "seed": 4},
        },
    },
}


def draw(image: np.ndarray, cls: int, cx: float, cy: float, size: float) -> None:
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    half = size / 2
    if cls == 0:  # round blob
        mask = (x - cx) ** 2 + (y - cy) ** 2 <= half**2
        image[mask] = 0.15
    elif cls == 1:  # thin diagonal line
        mask = (np.abs((x - cx) - (y - cy)) <= 1.2) & (np.abs(x - cx) <= half) & (np.abs(y - cy) <= half)
        image[mask] = 0.95
    else:  # square
        mask = (np.abs(x - cx) <= half) & (np.abs(y - cy) <= half)
        image[mask] = 0.6


def make_version(root: str, name: str, classes: list[str], version: str, spec: dict) -> None:
    rng = np.random.default_rng(spec["seed"])
    base = os.path.join(root, name, version)
    for split in ("train", "val"):
        os.makedirs(os.path.join(base, "images", split), exist_ok=True)
        os.makedirs(os.path.join(base, "labels", split), exist_ok=True)
        for i in range(spec[split]):
            image = 0.45 + 0.08 * rng.standard_normal((SIZE, SIZE))
            image += 0.05 * np.sin(np.linspace(0, 6 * np.pi, SIZE))[None, :]  # the weld seam texture
            lines = []
            for _ in range(int(rng.integers(0, 3))):
                cls = int(rng.choice(len(classes), p=spec["weights"]))
                size = float(rng.uniform(8, 20))
                cx, cy = rng.uniform(size / 2 + 1, SIZE - size / 2 - 1, size=2)
                draw(image, cls, cx, cy, size)
                lines.append(f"{cls} {cx / SIZE:.6f} {cy / SIZE:.6f} {size / SIZE:.6f} {size / SIZE:.6f}")
            stem = f"{name}-{version}-{split}-{i:04d}"
            write_png(os.path.join(base, "images", split, f"{stem}.png"), (np.clip(image, 0, 1) * 255).astype(np.uint8))
            with open(os.path.join(base, "labels", split, f"{stem}.txt"), "w") as out:
                out.write("\n".join(lines) + ("\n" if lines else ""))
    names = "\n".join(f"  {i}: {c}" for i, c in enumerate(classes))
    with open(os.path.join(base, "data.yaml"), "w") as out:
        out.write(f"path: .\ntrain: images/train\nval: images/val\nnames:\n{names}\n")


def main(root: str) -> None:
    for name, dataset in DATASETS.items():
        for version, spec in dataset["versions"].items():
            make_version(root, name, dataset["classes"], version, spec)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_datasets.py <datasets-root>")
    main(sys.argv[1])
