import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  eventSecret,
  jobEvent,
  postEvent,
  slackBotToken,
  slackSigningSecret,
  startSlackPeer,
  tempDir,
  waitFor,
} from './helpers.ts';

// The built bin, as an operator runs it, against a local peer speaking the OpenAI Chat
// Completions format (the model) and one speaking Slack's Web API (the notification channel).
const bin = fileURLToPath(new URL('../../bin/nightshift.js', import.meta.url));

interface ModelPeer {
  url: string;
  requests: number;
  mode: 'hang' | 'answer';
  close(): Promise<void>;
}

async function startModelPeer(answer: string): Promise<ModelPeer> {
  const held: ServerResponse[] = [];
  const peer: ModelPeer = {
    url: '',
    requests: 0,
    mode: 'hang',
    close: async () => {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = createServer(async (req, res) => {
    for await (const _ of req) {
      // drain
    }
    peer.requests++;
    if (peer.mode === 'hang') {
      held.push(res);
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({
        id: `chatcmpl-${peer.requests}`,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: 'test-model',
        choices: [{ index: 0, message: { role: 'assistant', content: answer }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 },
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  peer.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  return peer;
}

function startService(
  configPath: string,
): Promise<{ child: ChildProcess; url: string; stderr: () => string }> {
  const child = spawn(process.execPath, [bin, 'serve', '--config', configPath, '--port', '0'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, NIGHTSHIFT_CONFIG: '' },
  });
  let stderr = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the service did not start:\n${stderr}`)), 15_000);
    child.stderr?.on('data', (chunk) => {
      stderr += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(stderr);
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1] as string, stderr: () => stderr });
      }
    });
    child.on('exit', (code) => reject(new Error(`the service exited with ${code}:\n${stderr}`)));
  });
}

describe('kill -9 between accepting an event and finishing its turn', { timeout: 60_000 }, () => {
  const tmp = tempDir();
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const child of children) child.kill('SIGKILL');
    tmp.cleanup();
  });

  it('hands the event over again after a restart and notifies exactly once', async () => {
    const model = await startModelPeer('weld-defect-v4 (j-9) failed: CUDA out of memory at epoch 3.');
    const slack = await startSlackPeer();
    try {
      const configPath = join(tmp.dir, 'nightshift.config.yaml');
      writeFileSync(join(tmp.dir, 'brief.md'), 'Report failures in one line.\n');
      writeFileSync(
        configPath,
        `dataDir: ./data
model: { provider: openai-compatible, baseUrl: ${model.url}, name: test-model, timeoutSeconds: 30 }
people:
  - { name: Anna, role: approver, slack: UANNA }
service:
  events: { secrets: ['${eventSecret}'] }
  routes:
    - { channel: slack, conversation: CEVENTS }
  slack: { signingSecret: '${slackSigningSecret}', botToken: '${slackBotToken}', apiBaseUrl: '${slack.url}' }
`,
      );

      const first = await startService(configPath);
      children.push(first.child);
      const accepted = await postEvent(first.url, jobEvent('job.failed', 'j-9', 'weld-defect-v4'), {
        id: 'crash-1',
      });
      expect(accepted.status).toBe(202);
      // The turn is under way: the model has the request and has not answered.
      await waitFor(() => model.requests >= 1, 'the model request');
      first.child.kill('SIGKILL');
      await new Promise((resolve) => first.child.once('exit', resolve));

      const db = new DatabaseSync(join(tmp.dir, 'data', 'events.db'), { readOnly: true });
      expect(db.prepare('SELECT status FROM events WHERE id = ?').get('job:crash-1')).toEqual({
        status: 'pending',
      });
      db.close();
      expect(slack.calls).toEqual([]);

      model.mode = 'answer';
      const second = await startService(configPath);
      children.push(second.child);
      const posted = () =>
        slack.calls.filter(
          (c) => c.method === 'chat.postMessage' && String(c.body.text).includes('CUDA out of memory'),
        );
      await waitFor(() => posted().length === 1, 'the notification', 20_000);
      // A repeat delivery of the same webhook after the restart is accepted once, not twice.
      const again = await postEvent(second.url, jobEvent('job.failed', 'j-9', 'weld-defect-v4'), {
        id: 'crash-1',
      });
      expect(again).toMatchObject({ status: 200, json: { duplicate: true } });
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(posted()).toHaveLength(1);
      expect(posted()[0]?.body.channel).toBe('CEVENTS');

      second.child.kill('SIGTERM');
      await new Promise((resolve) => second.child.once('exit', resolve));
      const after = new DatabaseSync(join(tmp.dir, 'data', 'events.db'), { readOnly: true });
      expect(after.prepare('SELECT status, outcome FROM events WHERE id = ?').get('job:crash-1')).toEqual({
        status: 'handled',
        outcome: 'notified',
      });
      expect(after.prepare('SELECT COUNT(*) AS n FROM notifications').get()).toEqual({ n: 1 });
      after.close();
      // A third start finds nothing to do and sends nothing.
      const third = await startService(configPath);
      children.push(third.child);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(posted()).toHaveLength(1);
      third.child.kill('SIGTERM');
    } finally {
      await model.close();
      await slack.close();
    }
  });
});
