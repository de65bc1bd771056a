import { describe, expect, it } from 'vitest';
import { cocoRecord, yoloLabelRecord } from './readers.ts';

const yolo = (text: string, size = Buffer.byteLength(text)) => yoloLabelRecord(Buffer.from(text), size);

describe('yoloLabelRecord', () => {
  it('reads boxes, skipping blank lines and comments, with CRLF or tabs', () => {
    const record = yolo('# header\r\n0 0.5 0.5 0.2 0.1\r\n\r\n2\t0.25 0.75 0.1 0.1\n');
    expect(record.rows).toEqual([0, 0.5, 0.5, 0.2, 0.1, 2, 0.25, 0.75, 0.1, 0.1]);
    expect(record.malformed).toBe(0);
  });

  it('reduces a segmentation polygon to its bounding box', () => {
    expect(yolo('1 0.1 0.2 0.5 0.2 0.3 0.6\n').rows).toEqual(
      [1, 0.3, 0.4, 0.4, 0.4].map((v, i) => (i === 0 ? v : expect.closeTo(v, 10))),
    );
  });

  it('counts malformed lines and remembers the first', () => {
    const record = yolo('0 0.5 0.5 0.2 0.1\n0 0.5 0.5\n1 a b c d\n0 0.5 0.5 0.2 0.1 0.3\n');
    expect(record).toMatchObject({ malformed: 3, firstMalformedLine: 2 });
    expect(record.rows).toHaveLength(5);
  });

  it('drops the cut last line of a capped read and records the full size', () => {
    const record = yolo('0 0.5 0.5 0.2 0.1\n1 0.5 0.', 5_000_000);
    expect(record).toMatchObject({ rows: [0, 0.5, 0.5, 0.2, 0.1], malformed: 0, truncatedFrom: 5_000_000 });
  });

  it('gives the same hash for the same bytes only', () => {
    expect(yolo('0 0.5 0.5 0.2 0.1\n').hash).toBe(yolo('0 0.5 0.5 0.2 0.1\n').hash);
    expect(yolo('0 0.5 0.5 0.2 0.1\n').hash).not.toBe(yolo('1 0.5 0.5 0.2 0.1\n').hash);
  });
});

describe('cocoRecord', () => {
  it('keeps images, categories and boxes', () => {
    const json = {
      images: [{ id: 1, file_name: 'a.jpg', width: 10, height: 20 }],
      categories: [{ id: 3, name: 'bolt' }],
      annotations: [{ image_id: 1, category_id: 3, bbox: [1, 2, 3, 4] }],
    };
    expect(cocoRecord(Buffer.from(JSON.stringify(json)), 0)).toEqual({
      kind: 'coco',
      images: [[1, 'a.jpg', 10, 20]],
      categories: [[3, 'bolt']],
      annotations: [[1, 3, 1, 2, 3, 4]],
    });
  });

  it('reports JSON that does not parse, files that are not COCO, and files over the limit', () => {
    expect(cocoRecord(Buffer.from('{"images": ['), 12).problem).toMatch(/^not valid JSON/);
    expect(cocoRecord(Buffer.from('{"owner": "qa"}'), 15).problem).toMatch(/not a COCO annotation file/);
    expect(cocoRecord(undefined, 600 * 1024 * 1024).problem).toMatch(/above the .*-byte limit; not parsed/);
  });
});
