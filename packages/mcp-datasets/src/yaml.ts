/**
 * Parses YAML, loading the parser on first use so the server starts fast. Bundled, the
 * package's CommonJS build is what `import()` gets, with `parse` under `default`.
 */
export async function parseYaml(text: string): Promise<unknown> {
  const module = (await import('yaml')) as unknown as {
    parse?: (t: string) => unknown;
    default?: { parse: (t: string) => unknown };
  };
  const parse = module.parse ?? module.default?.parse;
  if (!parse) throw new Error('the YAML parser failed to load');
  return parse(text);
}
