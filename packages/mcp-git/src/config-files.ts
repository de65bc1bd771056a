import { isDeepStrictEqual } from 'node:util';
import { ToolError } from '@nightshift/mcp-kit';
import { loadYaml, type YamlModule } from './lazy.ts';

/**
 * Reading and editing values in training-config files by key path (`train.image_size`,
 * `model.classes[1]`). Edits splice the new value into the original text so comments, key
 * order and spacing survive byte for byte; only a value that cannot be spliced (a new key, a
 * block collection in YAML) goes through the YAML document model, which still keeps comments
 * and order.
 */
export type ConfigFormat = 'yaml' | 'json' | 'toml';

export type KeyPath = Array<string | number>;

export function formatOf(path: string): ConfigFormat {
  const lower = path.toLowerCase();
  if (lower.endsWith('.yaml') || lower.endsWith('.yml')) return 'yaml';
  if (lower.endsWith('.json')) return 'json';
  if (lower.endsWith('.toml')) return 'toml';
  throw new ToolError(
    'invalid_input',
    `${path} is not a YAML, JSON or TOML file (by its extension); read it with git_show_file instead.`,
  );
}

/** Parses `a.b[0].c` or `a.b.0.c`; a segment in brackets and quotes (`a["x.y"]`) may hold dots. */
export function parseKeyPath(input: string): KeyPath {
  const path: KeyPath = [];
  const pattern = /\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]|([^.[\]]+)/g;
  let last = 0;
  for (const match of input.matchAll(pattern)) {
    const gap = input.slice(last, match.index);
    if (gap !== '' && gap !== '.') throw badKeyPath(input);
    if (match[1] !== undefined) path.push(Number(match[1]));
    else if (match[2] !== undefined) path.push(JSON.parse(`"${match[2]}"`) as string);
    else if (match[3] !== undefined) path.push(/^\d+$/.test(match[3]) ? Number(match[3]) : match[3]);
    last = match.index + match[0].length;
  }
  if (path.length === 0 || last !== input.length) throw badKeyPath(input);
  return path;
}

function badKeyPath(input: string): ToolError {
  return new ToolError(
    'invalid_input',
    `key path "${input}" is malformed; use dots and indexes, e.g. "train.image_size" or "model.classes[0]".`,
  );
}

export function formatKeyPath(path: KeyPath): string {
  return path
    .map((p, i) =>
      typeof p === 'number' ? `[${p}]` : /^[^.[\]"]+$/.test(p) ? (i === 0 ? p : `.${p}`) : `["${p}"]`,
    )
    .join('');
}

/** Parses a whole config file into plain data. */
export async function parseConfig(text: string, format: ConfigFormat, path: string): Promise<unknown> {
  try {
    if (format === 'json') return JSON.parse(text) as unknown;
    if (format === 'toml') {
      const { parse } = await import('smol-toml');
      return parse(text);
    }
    const { parseDocument } = await loadYaml();
    const doc = parseDocument(text);
    if (doc.errors.length > 0) throw doc.errors[0];
    return doc.toJS() as unknown;
  } catch (error) {
    throw new ToolError('invalid_input', `${path} does not parse as ${format}: ${(error as Error).message}`);
  }
}

export interface Lookup {
  found: boolean;
  value?: unknown;
  /** The keys present at the deepest level reached, for a helpful "not found". */
  available: string[];
  /** The part of the key path that exists. */
  existing: KeyPath;
}

/** Walks plain data along a key path. */
export function lookup(data: unknown, path: KeyPath): Lookup {
  let current: unknown = data;
  const existing: KeyPath = [];
  for (const key of path) {
    const next = childOf(current, key);
    if (!next.found) return { found: false, available: keysOf(current), existing };
    current = next.value;
    existing.push(key);
  }
  return { found: true, value: current, available: [], existing };
}

function childOf(value: unknown, key: string | number): { found: boolean; value?: unknown } {
  if (Array.isArray(value)) {
    return typeof key === 'number' && key < value.length
      ? { found: true, value: value[key] }
      : { found: false };
  }
  if (typeof value === 'object' && value !== null) {
    const k = String(key);
    return Object.hasOwn(value, k)
      ? { found: true, value: (value as Record<string, unknown>)[k] }
      : { found: false };
  }
  return { found: false };
}

function keysOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.length === 0 ? [] : [`[0]..[${value.length - 1}]`];
  if (typeof value === 'object' && value !== null) return Object.keys(value).slice(0, 50);
  return [];
}

export interface SetOperation {
  key: string;
  value: unknown;
  /** Allows adding a key that does not exist yet (its parent must exist). */
  create?: boolean;
}

/**
 * Applies `set` operations to a YAML or JSON file's text and returns the new text. Every
 * operation is verified by re-parsing: the value at its key path must equal what was asked,
 * or the edit is refused rather than written wrong.
 */
export async function applySets(
  text: string,
  format: ConfigFormat,
  path: string,
  sets: SetOperation[],
): Promise<string> {
  if (format === 'toml') {
    throw new ToolError(
      'invalid_input',
      `structured edits support YAML and JSON; for ${path} (TOML) give an exact text replacement instead.`,
    );
  }
  const yaml = await loadYaml();
  let current = text;
  for (const op of sets) {
    const keyPath = parseKeyPath(op.key);
    const data = await parseConfig(current, format, path);
    const found = lookup(data, keyPath);
    if (!found.found) {
      const parentExists = found.existing.length === keyPath.length - 1;
      if (!op.create || !parentExists) {
        const where =
          found.existing.length > 0 ? ` under ${formatKeyPath(found.existing)}` : ' at the top level';
        const keys =
          found.available.length > 0 ? `keys there: ${found.available.join(', ')}` : 'nothing there';
        const hint = parentExists ? ' Pass create: true to add it.' : '';
        throw new ToolError('not_found', `key ${op.key} not found in ${path}${where}; ${keys}.${hint}`);
      }
    }
    current = found.found
      ? (spliceValue(yaml, current, format, keyPath, op.value) ??
        viaDocument(yaml, current, format, keyPath, op.value))
      : viaDocument(yaml, current, format, keyPath, op.value);
    const after = lookup(await parseConfig(current, format, path), keyPath);
    if (!after.found || !isDeepStrictEqual(after.value, op.value)) {
      throw new ToolError(
        'invalid_input',
        `setting ${op.key} in ${path} could not be done faithfully; give an exact text replacement instead.`,
      );
    }
  }
  return current;
}

/** Replaces the value's source text in place; undefined when it cannot be done cleanly. */
function spliceValue(
  yaml: YamlModule,
  text: string,
  format: ConfigFormat,
  keyPath: KeyPath,
  value: unknown,
): string | undefined {
  const doc = yaml.parseDocument(text);
  const node = doc.getIn(keyPath, true) as { range?: [number, number, number] } | undefined;
  if (!node || typeof node !== 'object' || !node.range) return undefined;
  const [start, end] = node.range;
  let rendered: string;
  if (format === 'json') {
    rendered = JSON.stringify(value);
  } else {
    if (!yaml.isScalar(node)) return undefined;
    if (value !== null && typeof value === 'object') return undefined;
    const quoted = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE';
    if (typeof value === 'string' && quoted) rendered = JSON.stringify(value);
    else rendered = yaml.stringify(value, { lineWidth: 0 }).replace(/\n$/, '');
    if (rendered.includes('\n')) return undefined;
  }
  return text.slice(0, start) + rendered + text.slice(end);
}

function viaDocument(
  yaml: YamlModule,
  text: string,
  format: ConfigFormat,
  keyPath: KeyPath,
  value: unknown,
): string {
  if (format === 'json') {
    const data = JSON.parse(text) as unknown;
    setPlain(data, keyPath, value);
    const indent = /\n([ \t]+)\S/.exec(text)?.[1] ?? '  ';
    return JSON.stringify(data, null, indent) + (text.endsWith('\n') ? '\n' : '');
  }
  const doc = yaml.parseDocument(text);
  doc.setIn(keyPath, doc.createNode(value));
  return doc.toString({ lineWidth: 0 });
}

function setPlain(data: unknown, keyPath: KeyPath, value: unknown): void {
  let parent = data as Record<string | number, unknown>;
  for (const key of keyPath.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  parent[keyPath[keyPath.length - 1] as string | number] = value;
}

/** Replaces exactly one occurrence of `oldText` (or all, when asked); zero or several is an error. */
export function replaceText(
  text: string,
  path: string,
  oldText: string,
  newText: string,
  all = false,
): string {
  if (oldText === '') throw new ToolError('invalid_input', 'replace.old must not be empty.');
  const count = text.split(oldText).length - 1;
  if (count === 0) {
    throw new ToolError(
      'not_found',
      `the text to replace was not found in ${path}; read the file with git_show_file and copy the exact text (whitespace included).`,
    );
  }
  if (count > 1 && !all) {
    throw new ToolError(
      'invalid_input',
      `the text to replace occurs ${count} times in ${path}; include more surrounding lines to make it unique, or set all: true.`,
    );
  }
  return text.split(oldText).join(newText);
}
