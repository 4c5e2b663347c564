import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const workspace_depth_max = 16;

/** The Nx workspace root: the nearest folder at or above `start` holding nx.json. */
export function findWorkspaceRoot(start: string = process.cwd()): string {
  let folder = resolve(start);
  for (let depth = 0; depth < workspace_depth_max; depth++) {
    if (existsSync(join(folder, 'nx.json'))) return folder;
    const parent = dirname(folder);
    if (parent === folder) break;
    folder = parent;
  }
  throw new Error(`no nx.json found at or above ${start}: run this from inside the paynet workspace`);
}

/** Where `npm run build` puts a service's compiled entry point. */
export function serviceEntry(workspaceRoot: string, name: string): string {
  return join(workspaceRoot, 'dist', 'apps', name, 'src', 'main.js');
}
