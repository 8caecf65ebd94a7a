/**
 * The two ways an app's process starts inside its limits: under `prlimit` (the rlimit
 * fallback), or through a shell that joins the app's control groups before it executes the
 * app's command. The process keeps its pid through every exec, so it stays the leader of its
 * process group and the owner of the IPC channel.
 */
import type { ResourceLimits } from './limits.js';
import type { ProcessSpec } from './os.js';

/** `spec` started by `prlimit` with RLIMIT_AS (and RLIMIT_NPROC on an app's own user). */
export function rlimitSpec(
  prlimit: string,
  spec: ProcessSpec,
  limits: ResourceLimits,
): ProcessSpec {
  // RLIMIT_NPROC counts every process of the user: set only when the app has a user of its
  // own, never on the manager's user (whose own processes would count against the app).
  return {
    ...spec,
    command: prlimit,
    args: [
      ...(spec.uid !== undefined ? [`--nproc=${limits.pidsMax}`] : []),
      `--as=${limits.memoryMaxBytes}`,
      '--',
      spec.command,
      ...spec.args,
    ],
  };
}

/**
 * `spec` started by a shell that writes its own pid to each of `procs` (the app's
 * cgroup.procs files) and then executes the command; given `setpriv` (the manager is root and
 * the app has a user), the shell stays root to join the groups and setpriv drops to the user.
 */
export function cgroupJoinSpec(
  procs: string[],
  setpriv: string | undefined,
  spec: ProcessSpec,
): ProcessSpec {
  const drop =
    setpriv !== undefined && spec.uid !== undefined
      ? [setpriv, `--reuid=${spec.uid}`, `--regid=${spec.gid ?? spec.uid}`, '--clear-groups', '--']
      : [];
  // $1: how many cgroup.procs files follow; a write that fails ends the start (exit 125).
  const script =
    'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n - 1)); done; exec "$@"';
  // As root the shell runs as root (to join the groups); setpriv then drops to the app's user.
  const asWho = drop.length > 0 ? { ...spec, uid: undefined, gid: undefined } : spec;
  return {
    ...asWho,
    command: '/bin/sh',
    args: [
      '-c',
      script,
      'appvisor-run',
      String(procs.length),
      ...procs,
      ...drop,
      spec.command,
      ...spec.args,
    ],
  };
}
