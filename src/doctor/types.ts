/** What `mlx-native doctor` reports: one result per check, and how to read them together. */

/** ok: fine; warn: works, but worth knowing; problem: something will not work (exit code 1). */
export type CheckStatus = 'ok' | 'warn' | 'problem';

export interface CheckResult {
  /** Stable key for scripts reading `--json` (e.g. `addon`, `port`). */
  id: string;
  /** What was checked, for people. */
  title: string;
  status: CheckStatus;
  /** What was found. */
  detail: string;
  /** How to fix it, for a warn or a problem. */
  fix?: string;
  /** The figures behind the detail (paths, versions, bytes, tokens per second). */
  data?: Record<string, unknown>;
}

/** The whole report: `ok` is false when any check is a problem. */
export interface DoctorReport {
  ok: boolean;
  checks: CheckResult[];
}

export const ok = (id: string, title: string, detail: string, data?: Record<string, unknown>): CheckResult => ({
  id,
  title,
  status: 'ok',
  detail,
  ...(data && { data }),
});

export const warn = (id: string, title: string, detail: string, fix: string, data?: Record<string, unknown>): CheckResult => ({
  id,
  title,
  status: 'warn',
  detail,
  fix,
  ...(data && { data }),
});

export const problem = (id: string, title: string, detail: string, fix: string, data?: Record<string, unknown>): CheckResult => ({
  id,
  title,
  status: 'problem',
  detail,
  fix,
  ...(data && { data }),
});

/** Bytes as MiB or GiB. */
export function bytes(n: number): string {
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(1)} GiB` : `${(n / 2 ** 20).toFixed(1)} MiB`;
}
