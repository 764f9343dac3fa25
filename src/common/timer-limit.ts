/** Node's timers take at most 2^31 − 1 ms; a longer delay fires after 1 ms (a drain deadline passed at once). */
export const MAX_TIMER_MS = 2 ** 31 - 1;
