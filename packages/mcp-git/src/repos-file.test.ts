import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadReposFile } from './repos-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'ns-repos-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(text: string): string {
  const path = join(dir, `${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(path, text);
  return path;
}

describe('the repos file', () => {
  it('loads repos with defaults and resolves relative paths', async () => {
    const repos = await loadReposFile(
      file(`repos:
  - name: a
    url: https://git.example.com/a.git
    push_branches: [main]
    token_env: A_TOKEN
  - name: b
    path: ./local
`),
    );
    expect(repos[0]).toMatchObject({
      name: 'a',
      default_branch: 'main',
      username: 'x-access-token',
      author: { name: 'Nightshift' },
    });
    expect(repos[1]?.path).toBe(join(dir, 'local'));
  });

  it('lists every problem at once', async () => {
    const error = await loadReposFile(
      file(`repos:
  - name: ../bad
    url: http://git.example.com/a.git
  - name: creds
    url: https://user:secret@git.example.com/a.git
  - name: both
    url: https://git.example.com/a.git
    path: /x
  - name: typo
    path: /x
    pushbranches: [main]
`),
    ).catch((e: Error) => e);
    const message = (error as Error).message;
    expect(message).toMatch(/repos.0.name/);
    expect(message).toMatch(/must be https/);
    expect(message).toMatch(/must not contain credentials/);
    expect(message).toMatch(/exactly one of url or path/);
    expect(message).toMatch(/pushbranches/);
  });

  it('says when the file is missing or not YAML', async () => {
    await expect(loadReposFile(join(dir, 'nope.yaml'))).rejects.toThrow(
      /cannot read NIGHTSHIFT_GIT_REPOS_FILE/,
    );
    await expect(loadReposFile(file('repos: [\n'))).rejects.toThrow(/not valid YAML/);
  });
});
