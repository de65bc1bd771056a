// Writes real datasets for tests: PNG and JPEG files encoded by pngjs and jpeg-js, real YOLO
// label files, COCO JSON and class folders, with defects planted where a test asks for them.
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

/** A PNG whose pixels depend on `seed`, so every seed gives different bytes. */
export function pngBytes(width: number, height: number, seed: number): Buffer {
  const png = new PNG({ width, height });
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      png.data[i] = (x * 3 + seed * 37) & 255;
      png.data[i + 1] = (y * 5 + seed * 11) & 255;
      png.data[i + 2] = (x * y + seed) & 255;
      png.data[i + 3] = 255;
    }
  return PNG.sync.write(png);
}

const jpegBases = new Map<string, Buffer>();

/**
 * A real JPEG (jpeg-js output) unique to `seed`: the encoder costs ~100 ms a call, so pixels
 * come from one of four encoded patterns and a comment segment carrying the seed makes the
 * bytes unique.
 */
export function jpegBytes(width: number, height: number, seed: number): Buffer {
  const key = `${width}x${height}:${seed % 4}`;
  let base = jpegBases.get(key);
  if (!base) {
    const data = Buffer.alloc(width * height * 4);
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) {
        const i = (y * width + x) * 4;
        data[i] = (x * 2 + (seed % 4) * 61) & 255;
        data[i + 1] = (y * 4 + (seed % 4) * 29) & 255;
        data[i + 2] = ((x + y) * 3) & 255;
        data[i + 3] = 255;
      }
    base = Buffer.from(jpeg.encode({ data, width, height }, 85).data);
    jpegBases.set(key, base);
  }
  const text = Buffer.from(`seed ${seed}`);
  const comment = Buffer.alloc(4 + text.length);
  comment[0] = 0xff;
  comment[1] = 0xfe;
  comment.writeUInt16BE(2 + text.length, 2);
  text.copy(comment, 4);
  return Buffer.concat([base.subarray(0, 2), comment, base.subarray(2)]);
}

function write(path: string, content: string | Buffer): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}

function copy(from: string, to: string): void {
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
}

export const yoloClasses = ['scratch', 'dent', 'rust'];

/** One YOLO box line: class, centre and size as fractions of the image. */
const line = (cls: number, cx = 0.5, cy = 0.5, w = 0.25, h = 0.25) => `${cls} ${cx} ${cy} ${w} ${h}`;

function yoloYaml(dir: string, classes = yoloClasses): void {
  write(
    join(dir, 'data.yaml'),
    `path: /mnt/training/elsewhere\ntrain: images/train\nval: images/val\nnames:\n${classes.map((c, i) => `  ${i}: ${c}`).join('\n')}\n`,
  );
}

/**
 * A clean YOLO version: `train` images per split index i get class i % 3; PNG 64×48 and
 * (every third) JPEG 80×60. Seeds start at `seedBase` so versions can share or differ.
 */
export function makeCleanYolo(
  dir: string,
  options: { train?: number; val?: number; seedBase?: number } = {},
): void {
  const { train = 9, val = 3, seedBase = 0 } = options;
  yoloYaml(dir);
  for (const [split, count, offset] of [
    ['train', train, 0],
    ['val', val, 1000],
  ] as const) {
    for (let i = 0; i < count; i++) {
      const seed = seedBase + offset + i;
      const jpg = i % 3 === 2;
      const name = `${split}-${String(i).padStart(3, '0')}`;
      write(
        join(dir, 'images', split, `${name}.${jpg ? 'jpg' : 'png'}`),
        jpg ? jpegBytes(80, 60, seed) : pngBytes(64, 48, seed),
      );
      // A small box (16×12 px on 64×48) and, on even images, a large one.
      const rows = [line(i % 3, 0.5, 0.5, 0.25, 0.25)];
      if (i % 2 === 0) rows.push(line((i + 1) % 3, 0.5, 0.5, 0.9, 0.9));
      write(join(dir, 'labels', split, `${name}.txt`), `${rows.join('\n')}\n`);
    }
  }
}

/**
 * A clean YOLO version plus planted defects. Expected findings (counts):
 * corrupt_image 2, class_out_of_range 2, malformed_label 1, duplicate_image 1, split_leakage 1,
 * missing_label 2, label_without_image 1, box_degenerate 1, box_out_of_bounds 1, label_file_too_large 1.
 */
export function makeDefectiveYolo(dir: string): void {
  makeCleanYolo(dir, { seedBase: 500 });
  const img = (split: string, name: string) => join(dir, 'images', split, name);
  const lbl = (split: string, name: string) => join(dir, 'labels', split, name);
  // Corrupt: a PNG cut in half (no IEND) and a .jpg that is text.
  const png = pngBytes(64, 48, 9001);
  write(img('train', 'cut.png'), png.subarray(0, Math.floor(png.length / 2)));
  write(lbl('train', 'cut.txt'), `${line(0)}\n`);
  write(img('train', 'text.jpg'), 'this is not an image\n');
  write(lbl('train', 'text.txt'), `${line(1)}\n`);
  // Two boxes with class 7 when only 0–2 exist, beside a valid one.
  write(img('train', 'badclass.png'), pngBytes(64, 48, 9002));
  write(lbl('train', 'badclass.txt'), `${line(7)}\n${line(0)}\n${line(7, 0.3, 0.3, 0.1, 0.1)}\n`);
  // One malformed line (three numbers).
  write(img('train', 'short.png'), pngBytes(64, 48, 9003));
  write(lbl('train', 'short.txt'), `${line(1)}\n0 0.5 0.5\n`);
  // An exact duplicate within train.
  copy(img('train', 'train-000.png'), img('train', 'copy-of-000.png'));
  copy(lbl('train', 'train-000.txt'), lbl('train', 'copy-of-000.txt'));
  // The same image in train and val.
  copy(img('train', 'train-001.png'), img('val', 'leaked.png'));
  copy(lbl('train', 'train-001.txt'), lbl('val', 'leaked.txt'));
  // Two images without label files.
  write(img('train', 'nolabel-a.png'), pngBytes(64, 48, 9004));
  write(img('val', 'nolabel-b.png'), pngBytes(64, 48, 9005));
  // A label file without its image.
  write(lbl('train', 'orphan.txt'), `${line(0)}\n`);
  // A zero-width box and a box running off the right edge.
  write(img('train', 'boxes.png'), pngBytes(64, 48, 9006));
  write(
    lbl('train', 'boxes.txt'),
    `${line(0, 0.5, 0.5, 0, 0.2)}\n${line(1, 0.95, 0.5, 0.3, 0.2)}\n${line(2)}\n`,
  );
  // A label file over the 1 MiB read cap (valid lines all the way).
  write(img('train', 'huge.png'), pngBytes(64, 48, 9007));
  write(lbl('train', 'huge.txt'), `${line(2)}\n`.repeat(Math.ceil((1.2 * 1024 * 1024) / 22)));
}

export const cocoClasses = ['bolt', 'nut'];

interface CocoImage {
  file: string;
  width: number;
  height: number;
  boxes: Array<[number, number, number, number, number]>;
}

function cocoJson(images: CocoImage[], categoryIds = [1, 2]): string {
  let annId = 1;
  return JSON.stringify({
    info: { description: 'test' },
    images: images.map((img, i) => ({
      id: i + 1,
      file_name: img.file,
      width: img.width,
      height: img.height,
    })),
    categories: cocoClasses.map((name, i) => ({ id: categoryIds[i], name })),
    annotations: images.flatMap((img, i) =>
      img.boxes.map(([cat, x, y, w, h]) => ({
        id: annId++,
        image_id: i + 1,
        category_id: cat,
        bbox: [x, y, w, h],
        area: w * h,
      })),
    ),
  });
}

/** A COCO version: `annotations/instances_<split>.json`, images under `images/<split>/`. JPEG 80×60. */
export function makeCleanCoco(dir: string, options: { seedBase?: number } = {}): Record<string, CocoImage[]> {
  const seedBase = options.seedBase ?? 2000;
  const splits: Record<string, CocoImage[]> = { train: [], val: [] };
  for (const [split, count] of [
    ['train', 6],
    ['val', 2],
  ] as const) {
    for (let i = 0; i < count; i++) {
      const file = `${split}-${i}.jpg`;
      write(join(dir, 'images', split, file), jpegBytes(80, 60, seedBase + (split === 'val' ? 100 : 0) + i));
      splits[split]?.push({
        file,
        width: 80,
        height: 60,
        // Category ids are 1 and 2 (COCO style), a 20×20 px box and, on odd images, a 60×50 one.
        boxes:
          i % 2
            ? [
                [1 + (i % 2), 10, 5, 20, 20],
                [1, 10, 5, 60, 50],
              ]
            : [[1, 10, 5, 20, 20]],
      });
    }
  }
  writeCoco(dir, splits);
  return splits;
}

export function writeCoco(dir: string, splits: Record<string, CocoImage[]>): void {
  for (const [split, images] of Object.entries(splits))
    write(join(dir, 'annotations', `instances_${split}.json`), cocoJson(images));
}

/**
 * A clean COCO version plus planted defects. Expected findings (counts): corrupt_image 1,
 * class_out_of_range 1, duplicate_image 1, split_leakage 1, missing_label 1, label_without_image 1,
 * box_degenerate 1, box_out_of_bounds 1.
 */
export function makeDefectiveCoco(dir: string): void {
  const splits = makeCleanCoco(dir, { seedBase: 3000 });
  const train = splits.train as CocoImage[];
  const val = splits.val as CocoImage[];
  const jpg = jpegBytes(80, 60, 3500);
  // A JPEG with its end cut off (no EOI).
  write(join(dir, 'images', 'train', 'cut.jpg'), jpg.subarray(0, jpg.length - 200));
  train.push({ file: 'cut.jpg', width: 80, height: 60, boxes: [[1, 5, 5, 10, 10]] });
  // A category id that is not declared.
  write(join(dir, 'images', 'train', 'badcat.jpg'), jpegBytes(80, 60, 3501));
  train.push({
    file: 'badcat.jpg',
    width: 80,
    height: 60,
    boxes: [
      [9, 5, 5, 10, 10],
      [2, 5, 5, 10, 10],
    ],
  });
  // A duplicate within train, and a train image also in val.
  copy(join(dir, 'images', 'train', 'train-0.jpg'), join(dir, 'images', 'train', 'again.jpg'));
  train.push({ file: 'again.jpg', width: 80, height: 60, boxes: [[1, 10, 5, 20, 20]] });
  copy(join(dir, 'images', 'train', 'train-1.jpg'), join(dir, 'images', 'val', 'leak.jpg'));
  val.push({ file: 'leak.jpg', width: 80, height: 60, boxes: [[1, 10, 5, 20, 20]] });
  // An image on disk that no annotation file lists, and a listed image that is not on disk.
  write(join(dir, 'images', 'val', 'unlisted.jpg'), jpegBytes(80, 60, 3502));
  val.push({ file: 'missing.jpg', width: 80, height: 60, boxes: [[1, 10, 5, 20, 20]] });
  // A zero-height box and one beyond the right edge.
  write(join(dir, 'images', 'train', 'boxes.jpg'), jpegBytes(80, 60, 3503));
  train.push({
    file: 'boxes.jpg',
    width: 80,
    height: 60,
    boxes: [
      [1, 10, 10, 20, 0],
      [2, 70, 10, 30, 20],
    ],
  });
  writeCoco(dir, splits);
}

export const folderClasses = ['cat', 'dog', 'fox'];

/** An image-folder version: `<split>/<class>/<image>`, PNG 32×32. */
export function makeCleanFolders(dir: string, options: { seedBase?: number; perClass?: number } = {}): void {
  const { seedBase = 4000, perClass = 3 } = options;
  for (const [split, n, offset] of [
    ['train', perClass, 0],
    ['val', 1, 500],
  ] as const)
    folderClasses.forEach((cls, c) => {
      for (let i = 0; i < n; i++)
        write(join(dir, split, cls, `${cls}-${i}.png`), pngBytes(32, 32, seedBase + offset + c * 50 + i));
    });
}

/**
 * A clean image-folder version plus planted defects. Expected findings (counts): corrupt_image 1,
 * duplicate_image 1, split_leakage 1, missing_label 1.
 */
export function makeDefectiveFolders(dir: string): void {
  makeCleanFolders(dir, { seedBase: 6000 });
  // A PNG signature followed by junk: the header chunk does not parse.
  write(
    join(dir, 'train', 'cat', 'broken.png'),
    Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      Buffer.from('not really a PNG at all'),
    ]),
  );
  copy(join(dir, 'train', 'dog', 'dog-0.png'), join(dir, 'train', 'dog', 'dog-0-copy.png'));
  copy(join(dir, 'train', 'fox', 'fox-1.png'), join(dir, 'val', 'fox', 'fox-leak.png'));
  write(join(dir, 'train', 'stray.png'), pngBytes(32, 32, 6999));
}

/** Reads a file back (tests compare against it). */
export function bytesOf(path: string): Buffer {
  return readFileSync(path);
}

/**
 * v2 of a clean YOLO version (same seeds as `makeCleanYolo(v1)`) with known changes:
 * 12 added train images of class 2 (rust) with large boxes on 200×150 images, val-002 removed,
 * train-003's label changed from class 0 to class 2, train-004's image replaced.
 */
export function makeDriftedYolo(dir: string): void {
  makeCleanYolo(dir);
  for (let i = 0; i < 12; i++) {
    write(join(dir, 'images', 'train', `extra-${i}.png`), pngBytes(200, 150, 7000 + i));
    write(join(dir, 'labels', 'train', `extra-${i}.txt`), `${line(2, 0.5, 0.5, 0.8, 0.8)}\n`);
  }
  rmSync(join(dir, 'images', 'val', 'val-002.jpg'));
  rmSync(join(dir, 'labels', 'val', 'val-002.txt'));
  write(join(dir, 'labels', 'train', 'train-003.txt'), `${line(2, 0.5, 0.5, 0.25, 0.25)}\n`);
  write(join(dir, 'images', 'train', 'train-004.png'), pngBytes(64, 48, 7777));
}

/**
 * A datasets root with every format, clean and defective versions, a manifest and a dataset
 * that is itself its only version:
 *
 *   yolo-parts/v1 (clean), v2 (drifted)      yolo-defects/ (data.yaml at the top: version "current")
 *   coco-parts/v1 (clean), v2 (defective)    folders/v1 (clean), v2 (defective)
 *   manifested/versions.yaml → jan = releases/2024-01, feb = releases/2024-02
 */
export function makeRoot(root: string): string {
  makeCleanYolo(join(root, 'yolo-parts', 'v1'));
  makeDriftedYolo(join(root, 'yolo-parts', 'v2'));
  makeDefectiveYolo(join(root, 'yolo-defects'));
  makeCleanCoco(join(root, 'coco-parts', 'v1'));
  makeDefectiveCoco(join(root, 'coco-parts', 'v2'));
  makeCleanFolders(join(root, 'folders', 'v1'));
  makeDefectiveFolders(join(root, 'folders', 'v2'));
  makeCleanYolo(join(root, 'manifested', 'releases', '2024-01'), { train: 3, val: 1 });
  makeCleanYolo(join(root, 'manifested', 'releases', '2024-02'), { train: 6, val: 2 });
  write(
    join(root, 'manifested', 'versions.yaml'),
    'versions:\n  - name: jan\n    path: releases/2024-01\n    date: 2024-01-31\n    note: first batch\n  - name: feb\n    path: releases/2024-02\n    date: 2024-02-29\n',
  );
  return root;
}
