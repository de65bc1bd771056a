import { describe, expect, it } from 'vitest';
import { parseAiquFile } from './config.ts';

describe('config file', () => {
  it('reads backends, defaults and templates, coercing params to strings', async () => {
    const file = await parseAiquFile(`
defaultBackend: kubernetes
backends:
  local: { gpus: [0, 2], cpus: 8 }
  kubernetes: { contexts: [gpu-a, gpu-b], namespace: ml, queue: team-a, image: trainer:1 }
defaults:
  resources: { cpus: 2 }
templates:
  weld:
    command: [python, train.py]
    params: { epochs: 30, lr: 0.001 }
`);
    expect(file.defaultBackend).toBe('kubernetes');
    expect(file.backends.local).toMatchObject({ gpus: [0, 2], cpus: 8, stopGraceSeconds: 30 });
    expect(file.backends.kubernetes).toMatchObject({ contexts: ['gpu-a', 'gpu-b'], queue: 'team-a' });
    expect(file.templates.weld?.params).toEqual({ epochs: '30', lr: '0.001' });
    expect(file.defaults.resources).toEqual({ cpus: 2 });
  });

  it('lists every problem at once', async () => {
    await expect(
      parseAiquFile('backends:\n  local: { cpus: -1 }\ntemplates:\n  x: { priority: high }\n', 'aiqu.yaml'),
    ).rejects.toThrow(/aiqu.yaml is invalid:\n {2}- backends.local.cpus: .*\n {2}- templates.x.priority/);
    await expect(parseAiquFile('a: [', 'bad.yaml')).rejects.toThrow(/bad.yaml is not valid YAML/);
  });

  it('an empty file means defaults', async () => {
    expect(await parseAiquFile('')).toMatchObject({ backends: {}, templates: {} });
  });
});
