/**
 * Whether the console's end-to-end tests run. They drive Debian's `chromium` through
 * playwright-core (never a downloaded browser); `scripts/ensure-chromium.sh` installs it when
 * missing. A developer without it gets the other suites and one line saying why; under `CI` the
 * e2e tests run anyway and fail with the reason, so CI can never pass with them silently off.
 * vitest.config.ts and the e2e test call it.
 */
import { existsSync } from 'node:fs';

/** Where Debian puts chromium. */
export const DEFAULT_CHROMIUM_PATH = '/usr/bin/chromium';

/** The gate's verdict. */
export interface ChromiumGate {
  /** The executable the tests launch (`WEFT_CHROMIUM_PATH`, else {@link DEFAULT_CHROMIUM_PATH}). */
  path: string;
  present: boolean;
  /** Skip the e2e tests: chromium is missing and this is not CI. */
  skip: boolean;
  /** Why chromium is unusable, when it is. */
  reason?: string;
}

/** Decides for the environment (`exists` is injectable for tests). */
export function chromiumGate(env: Readonly<Record<string, string | undefined>>, exists: (p: string) => boolean = existsSync): ChromiumGate {
  const path = env.WEFT_CHROMIUM_PATH || DEFAULT_CHROMIUM_PATH;
  if (exists(path)) return { path, present: true, skip: false };
  const reason = `${path} is missing (install it with scripts/ensure-chromium.sh or apt-get install -y chromium; WEFT_CHROMIUM_PATH names another binary)`;
  return { path, present: false, skip: !env.CI, reason };
}
