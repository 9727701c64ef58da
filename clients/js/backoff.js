/** Retry delays: exponential, capped, with jitter. Pure. */

/**
 * The delay in milliseconds before retry `attempt` (0, 1, 2, ...): it doubles from `initialMs` up
 * to `maxMs`, and is drawn from the upper half of that ceiling so that clients dropped together
 * do not all come back together.
 */
export function backoffDelay(attempt, { initialMs = 500, maxMs = 15_000 } = {}, random = Math.random) {
  const ceiling = Math.min(maxMs, initialMs * 2 ** attempt);
  return ceiling / 2 + random() * (ceiling / 2);
}
