import { describe, expect, it } from 'vitest';
import { repoDir, repoPath, symlinkTarget } from './paths.ts';

describe('repository paths', () => {
  it('normalizes harmless forms', () => {
    expect(repoPath('configs/train.yaml')).toBe('configs/train.yaml');
    expect(repoPath('./configs//train.yaml')).toBe('configs/train.yaml');
    expect(repoDir('.')).toBe('');
    expect(repoDir(undefined)).toBe('');
  });

  it('refuses anything that could leave the repository', () => {
    for (const bad of [
      '../x',
      'a/../../x',
      'a/..',
      '/etc/passwd',
      'C:/x',
      'a\\..\\x',
      'a\0b',
      '.git/config',
      '',
      '.',
    ]) {
      expect(() => repoPath(bad), JSON.stringify(bad)).toThrow(/is refused/);
    }
  });

  it('resolves symlink targets only while they stay inside', () => {
    expect(symlinkTarget('links/a.yaml', '../configs/a.yaml')).toBe('configs/a.yaml');
    expect(symlinkTarget('a.yaml', 'b.yaml')).toBe('b.yaml');
    expect(symlinkTarget('links/a', '../../etc/passwd')).toBeUndefined();
    expect(symlinkTarget('links/a', '/etc/passwd')).toBeUndefined();
    expect(symlinkTarget('a', '.')).toBeUndefined();
  });
});
