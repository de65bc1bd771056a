import { normalizePhrase } from '../config.ts';

export interface Decision {
  kind: 'confirm' | 'reject';
  /** Proposal numbers named in the message (`confirm P-7`); empty means "the pending one". */
  numbers: number[];
}

/**
 * Reads a person's message as a decision on pending proposals, or not. The whole message
 * (minus any `P-<n>` it names) must be one of the phrases: "yes, but use lr 1e-4" is not a
 * confirmation, it goes to the model like any other message.
 */
export function parseDecision(
  text: string,
  phrases: { confirm: readonly string[]; reject: readonly string[] },
): Decision | undefined {
  const numbers = [...text.matchAll(/\bp-(\d+)\b/gi)].map((m) => Number(m[1]));
  const rest = normalizePhrase(
    text
      .replace(/\bp-\d+\b/gi, ' ')
      .replace(/[,&]|\b(and|och|und)\b/gi, ' ')
      .replace(/\s+/g, ' '),
  );
  const confirm = new Set(phrases.confirm.map(normalizePhrase));
  const reject = new Set(phrases.reject.map(normalizePhrase));
  if (confirm.has(rest)) return { kind: 'confirm', numbers };
  if (reject.has(rest)) return { kind: 'reject', numbers };
  return undefined;
}
