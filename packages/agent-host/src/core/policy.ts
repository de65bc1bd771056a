import type { PolicyClass } from './types.ts';

/** The MCP tool annotations the policy reads (all optional on the wire). */
export interface WireAnnotations {
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  idempotentHint?: boolean;
  openWorldHint?: boolean;
}

export interface Classification {
  policyClass: PolicyClass;
  reason: string;
}

/**
 * A tool's policy class. Explicit config wins (`server/tool`, then `server/*`, then `tool`).
 * Otherwise annotations decide, but only from a trusted server: read-only → read; not
 * read-only and explicitly not destructive → act; anything else (including missing hints) →
 * confirm. Every tool of an untrusted server is confirm: its hints are claims, not facts.
 */
export function classifyTool(input: {
  server: string;
  tool: string;
  trusted: boolean;
  annotations: WireAnnotations | undefined;
  overrides: Record<string, PolicyClass>;
}): Classification {
  const { server, tool, trusted, annotations, overrides } = input;
  for (const key of [`${server}/${tool}`, `${server}/*`, tool]) {
    const explicit = overrides[key];
    if (explicit) return { policyClass: explicit, reason: `policy.tools["${key}"]` };
  }
  if (!trusted) return { policyClass: 'confirm', reason: 'untrusted server' };
  if (annotations?.readOnlyHint === true) return { policyClass: 'read', reason: 'readOnlyHint' };
  if (annotations?.destructiveHint === false) return { policyClass: 'act', reason: 'destructiveHint: false' };
  if (annotations?.destructiveHint === true) return { policyClass: 'confirm', reason: 'destructiveHint' };
  return { policyClass: 'confirm', reason: 'no annotations' };
}
