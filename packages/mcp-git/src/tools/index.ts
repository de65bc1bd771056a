import type { AnyTool } from '@nightshift/mcp-kit';
import type { GitDeps } from './define.ts';
import { editTools } from './edit.ts';
import { fileTools } from './files.ts';
import { historyTools } from './history.ts';
import { repoTools } from './repos.ts';

/** Every mcp-git tool, in the order clients list them. */
export const gitTools: AnyTool<GitDeps>[] = [...repoTools, ...historyTools, ...fileTools, ...editTools];
