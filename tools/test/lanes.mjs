// `npm test`: every project's tests in two lanes at once, each one project at
// a time (two test processes, as `nx run-many --parallel=2` ran). Nx starts
// independent tasks in project-graph order, which put e2e, the longest
// project (about 7 minutes), last, alone, after everything else: about 14.5
// minutes in CI. Lane one is e2e with the projects it outlasts anyway; lane
// two is everything else (new projects included). Both lanes always run to
// the end; the exit status fails if either did. Extra arguments go to both.
// Plain JavaScript: nothing is built first.
import { spawn } from 'node:child_process';

const first_lane = ['e2e', 'merchants', 'chaos'];
const extra = process.argv.slice(2);
const common = ['nx', 'run-many', '-t', 'test', '--parallel=1', '--output-style=stream', ...extra];

function lane(selection) {
  return new Promise((resolve) => {
    const child = spawn('npx', [...common, selection], { stdio: 'inherit' });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    child.on('error', () => resolve(1));
  });
}

const codes = await Promise.all([lane(`--projects=${first_lane.join(',')}`), lane(`--exclude=${first_lane.join(',')}`)]);
process.exit(codes.some((code) => code !== 0) ? 1 : 0);
