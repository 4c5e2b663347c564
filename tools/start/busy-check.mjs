// Runs before `npm start` builds: a second `npm start` in the same folder is
// refused by the lock in dist/tools/start (start-lock.ts), but only after the
// build, which would rewrite dist/ under the running stack (a service the
// supervisor restarts would load the new files). This reads the same lock
// file and refuses early; the lock itself stays the authority (it is taken
// with O_EXCL, this only looks). Plain JavaScript: it runs before anything is built.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The lock file may be given (tests); by default the checkout's own.
const lock = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', '.data', 'start.lock');

/** Field 22 of /proc/<pid>/stat, as start-lock.ts reads it. */
function startTime(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[22 - 3];
  } catch {
    return undefined;
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}

let text = '';
try {
  text = readFileSync(lock, 'utf8');
} catch {
  process.exit(0); // no lock: nothing runs here
}
const [pid_text = '', started = ''] = text.split('\n');
const pid = Number.parseInt(pid_text, 10);
if (Number.isSafeInteger(pid) && pid > 1 && pid !== process.pid && alive(pid)) {
  const now = startTime(pid);
  if (!started || now === undefined || now === started) {
    process.stderr.write(
      `paynet: another \`npm start\` (pid ${pid}) is running in this folder: stop it first (Ctrl-C in its terminal, or \`kill ${pid}\`); ` +
        'to run a second stack at once, use another clone of the repository\n',
    );
    process.exit(1);
  }
}
