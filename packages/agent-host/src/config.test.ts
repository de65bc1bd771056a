import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HostConfigError, loadConfig, parseConfig } from './config.ts';

const full = `
dataDir: ./state
brief: ./brief.md
model:
  provider: openai-compatible
  baseUrl: http://127.0.0.1:11434/v1
  name: qwen2.5
mcpServers:
  mlflow:
    command: nightshift-mcp-mlflow
    env:
      MLFLOW_TRACKING_URI: \${MLFLOW_URI}
      MLFLOW_TRACKING_TOKEN: \${MLFLOW_TOKEN}
  remote:
    url: http://127.0.0.1:7301/mcp
    headers:
      Authorization: Bearer \${REMOTE_TOKEN}
    trusted: true
people:
  - { name: Anna, role: approver, terminal: anna, slack: [U1, U2] }
  - { name: Vera, role: viewer, web: vera@example.com }
policy:
  tools: { "mlflow/*": read, git_push: deny }
  proposalExpiry: 2h
`;

describe('the config', () => {
  it('substitutes environment variables, applies defaults, resolves paths and collects secrets', () => {
    const config = parseConfig(full, {
      env: {
        MLFLOW_URI: 'http://127.0.0.1:5000',
        MLFLOW_TOKEN: 'mlflow-secret-1',
        REMOTE_TOKEN: 'remote-secret-2',
      },
      baseDir: '/srv/ns',
    });
    expect(config.dataDir).toBe('/srv/ns/state');
    expect(config.brief).toBe('/srv/ns/brief.md');
    expect(config.mcpServers.mlflow).toMatchObject({
      command: 'nightshift-mcp-mlflow',
      args: [],
      env: { MLFLOW_TRACKING_URI: 'http://127.0.0.1:5000', MLFLOW_TRACKING_TOKEN: 'mlflow-secret-1' },
    });
    expect(config.policy.proposalExpiry).toBe(2 * 3600_000);
    expect(config.policy.confirmPhrases).toEqual(expect.arrayContaining(['yes', 'go ahead', 'kör på']));
    expect(config.policy.rejectPhrases).toEqual(expect.arrayContaining(['no', 'cancel']));
    expect(config.secrets).toEqual(
      expect.arrayContaining(['mlflow-secret-1', 'remote-secret-2', 'Bearer remote-secret-2']),
    );
    expect(config.secrets).not.toContain('http://127.0.0.1:5000');
  });

  it('lists every problem in one error', () => {
    const text = `
model: { provider: openai-compatible }
mcpServers:
  "bad name": { command: x }
  s: { command: x, port: 3 }
people:
  - { name: A, role: boss, terminal: a }
  - { name: B, role: viewer }
policy: { proposalExpiry: soon }
`;
    let error: unknown;
    try {
      parseConfig(text, { env: {} });
    } catch (e) {
      error = e;
    }
    expect(HostConfigError.isInstance(error)).toBe(true);
    const problems = (error as HostConfigError).problems.join('\n');
    expect(problems).toMatch(/mcpServers\.bad name/);
    expect(problems).toMatch(/mcpServers\.s/);
    expect(problems).toMatch(/people\.0\.role/);
    expect(problems).toMatch(/people\.1: needs at least one channel id/);
    expect(problems).toMatch(/policy\.proposalExpiry/);
    expect((error as HostConfigError).problems.length).toBeGreaterThanOrEqual(5);
  });

  it('names unset environment variables and semantic problems', () => {
    expect(() =>
      parseConfig(
        `model: { provider: openai-compatible, name: x }
mcpServers: { a: { command: "x\${NOPE}" } }
people: [{ name: A, role: approver, terminal: a }, { name: B, role: viewer, terminal: a }]`,
        { env: {} },
      ),
    ).toThrow(
      /mcpServers\.a\.command: environment variable NOPE is not set[\s\S]*model\.baseUrl: required[\s\S]*id a is also used by A/,
    );
  });

  it('leaves the service block to nightshift serve', () => {
    expect(() =>
      parseConfig(`service: { listen: { port: 7400 }, slack: { botToken: "\${SLACK_BOT_TOKEN}" } }`, {
        env: {},
      }),
    ).not.toThrow();
  });

  it('accepts an empty file: no model, no servers, the host can still start', () => {
    const config = parseConfig('', { env: {} });
    expect(config.model).toBeUndefined();
    expect(config.mcpServers).toEqual({});
    expect(config.policy.maxSteps).toBeGreaterThan(0);
  });

  it('loadConfig resolves paths from the file and explains a missing file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nightshift-config-'));
    writeFileSync(join(dir, 'nightshift.config.yaml'), 'dataDir: data\n');
    expect(loadConfig(join(dir, 'nightshift.config.yaml'), {}).dataDir).toBe(join(dir, 'data'));
    expect(() => loadConfig(join(dir, 'missing.yaml'), {})).toThrow(/cannot read it \(ENOENT\).*--config/);
  });
});
