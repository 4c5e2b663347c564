import { findWorkspaceRoot } from '@paynet/devstack';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The workspace this library lives in (tests may run from any folder). */
export function workspaceRoot(): string {
  return findWorkspaceRoot(dirname(fileURLToPath(import.meta.url)));
}
