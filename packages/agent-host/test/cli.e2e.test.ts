import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startWirePeer } from '../src/__fixtures__/wire-peer.ts';

// The built bin, spawned as a person would run it: doctor, chat over a pipe (scripted model),
// audit and audit --verify against the same data directory.

const bin = fileURLToPath(new URL('../bin/nightshift.js', import.meta.url));
const recordingServer = fileURLToPath(new URL('../src/__fixtures__/recording-server.ts', import.meta.url));
const built = existsSync(fileURLToPath(new URL('../dist/bundle/main.js', import.meta.url)));

function run(args: string[], input?: string, env: NodeJS.ProcessEnv = {}) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

describe.skipIf(!built)('nightshift (built bin)', () => {
  let dir: string;
  let configPath: string;
  let recordFile: string;
  const user = userInfo().username;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'nightshift-cli-'));
    recordFile = join(dir, 'calls.jsonl');
    writeFileSync(join(dir, 'brief.md'), 'You are a test agent.');
    writeFileSync(
      join(dir, 'script.yaml'),
      stringify({
        turns: [
          { text: 'Looking.', toolCalls: [{ name: 'fx_read_status', arguments: { what: 'jobs' } }] },
          { text: 'All jobs are fine.' },
          {
            text: 'I will set image_size to 640.',
            toolCalls: [
              { name: 'fx_write_config', arguments: { path: 'a.yaml', content: 'image_size: 640' } },
            ],
          },
          { text: 'P-1 writes a.yaml. Reply yes to apply.' },
          { text: 'Written and committed.' },
        ],
      }),
    );
    configPath = join(dir, 'nightshift.config.yaml');
    writeFileSync(
      configPath,
      stringify({
        dataDir: 'data',
        model: { provider: 'scripted', script: 'script.yaml' },
        mcpServers: {
          fx: {
            command: process.execPath,
            args: [recordingServer],
            env: {
              FX_RECORD_FILE: recordFile,
              FX_STATE_FILE: join(dir, 'state.json'),
              FX_TOKEN: `$${'{'}FX_SECRET}`,
            },
            trusted: true,
          },
        },
        people: [{ name: 'Local', role: 'approver', terminal: user }],
      }),
    );
  });

  it('--help lists the commands; an unknown command exits 2', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/chat[\s\S]*serve[\s\S]*doctor[\s\S]*audit --verify/);
    expect((await run(['frobnicate'])).code).toBe(2);
  });

  it('doctor starts each server and prints each tool with its class', async () => {
    const result = await run(['doctor', '--config', configPath], undefined, {
      FX_SECRET: 'fx-secret-value-123',
    });
    expect(result.stdout).toMatch(/server fx \(stdio fixture-recording-server 0\.0\.0\): up/);
    expect(result.stdout).toMatch(/read\s+fx_read_status\s+readOnlyHint/);
    expect(result.stdout).toMatch(/act\s+fx_submit_job\s+destructiveHint: false/);
    expect(result.stdout).toMatch(/confirm\s+fx_write_config\s+destructiveHint/);
    expect(result.stdout).toMatch(/model: scripted: 5 turn\(s\) loaded/);
    expect(result.stdout).not.toContain('fx-secret-value-123');
    expect(result.code).toBe(0);
  });

  it('doctor checks a self-hosted model endpoint and reports an unreachable one', async () => {
    const peer = await startWirePeer({
      object: 'list',
      data: [{ id: 'qwen-test', object: 'model', created: 0, owned_by: 'me' }],
    });
    try {
      const withModel = join(dir, 'with-model.yaml');
      writeFileSync(
        withModel,
        stringify({
          dataDir: 'data-doctor',
          model: { provider: 'openai-compatible', baseUrl: `${peer.url}/v1`, name: 'qwen-test' },
          people: [{ name: 'Local', role: 'approver', terminal: user }],
        }),
      );
      const ok = await run(['doctor', '--config', withModel]);
      expect(ok.stdout).toMatch(
        /model: openai-compatible: http:\/\/127\.0\.0\.1:\d+\/v1 reachable; model qwen-test is served/,
      );
      expect(ok.code).toBe(0);
      expect(peer.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v1/models']);
      await peer.close();
      const down = await run(['doctor', '--config', withModel]);
      expect(down.code).toBe(1);
      expect(down.stdout).toMatch(/model: openai-compatible NOT ready — cannot reach the model endpoint/);
    } finally {
      await peer.close().catch(() => undefined);
    }
  });

  it('doctor reports an invalid config with every problem and exit 2', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'model: { provider: nope }\npeople: [{ name: X }]\n');
    const result = await run(['doctor', '--config', bad]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/problem\(s\):[\s\S]*model\.provider[\s\S]*people\.0\.role/);
  });

  it('chat holds a write until the local approver says yes, then runs it once', async () => {
    const result = await run(['chat', '--config', configPath], 'how are jobs?\nfix it\nyes\n', {
      FX_SECRET: 'fx-secret-value-123',
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/nightshift> Looking\.\n\nAll jobs are fine\.[\s\S]*P-1 writes a\.yaml/);
    expect(result.stdout).toMatch(/pending for confirmation:\n\s+P-1\s+fx\/fx_write_config/);
    expect(result.stdout).toMatch(/✔ P-1 fx_write_config done[\s\S]*Written and committed\./);
    const calls = readFileSync(recordFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).tool);
    expect(calls).toEqual(['fx_read_status', 'fx_write_config']);
  });

  it('chat refuses a local user who is not on the allow-list', async () => {
    const other = join(dir, 'other.yaml');
    writeFileSync(
      other,
      stringify({
        dataDir: 'data2',
        people: [{ name: 'Someone', role: 'approver', terminal: `not-${user}` }],
      }),
    );
    const result = await run(['chat', '--config', other], 'yes\n');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`"${user}" is not on the allow-list`);
  });

  it('audit lists the log; audit --verify passes, then detects an edited row', async () => {
    const listed = await run(['audit', '--config', configPath]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/tool_call\s+model/);
    expect(listed.stdout).toMatch(/proposal_held/);
    expect(listed.stdout).toMatch(/proposal_confirmed\s+Local/);
    expect(listed.stdout).toMatch(/proposal_executed/);
    const ok = await run(['audit', '--verify', '--config', configPath]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/audit log intact: \d+ rows/);

    const db = new DatabaseSync(join(dir, 'data', 'nightshift.db'));
    db.exec('DROP TRIGGER audit_no_update');
    db.exec("UPDATE audit SET actor = 'Mallory' WHERE kind = 'proposal_confirmed'");
    db.close();
    const tampered = await run(['audit', '--verify', '--config', configPath]);
    expect(tampered.code).toBe(1);
    expect(tampered.stdout).toMatch(
      /audit log TAMPERED[\s\S]*row \d+: content does not match its hash \(edited\)/,
    );
  });

  it('serve is dispatched lazily', async () => {
    const result = await run(['serve', '--help']);
    expect(result.stderr + result.stdout).not.toMatch(/unknown command/);
  });
});
