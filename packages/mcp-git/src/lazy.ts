/**
 * Loaders for dependencies only some tools need, so start-up does not pay for them.
 * `yaml` is CommonJS: bundled, its dynamic import exposes only `default`, while Node's own
 * loader also exposes named exports; taking `default` when present works for both.
 */
export type YamlModule = typeof import('yaml');

let yaml: Promise<YamlModule> | undefined;

export function loadYaml(): Promise<YamlModule> {
  yaml ??= import('yaml').then((m) => (m as YamlModule & { default?: YamlModule }).default ?? m);
  return yaml;
}
