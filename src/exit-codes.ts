/** Exit codes: 0 clean, 1 findings, 2 usage or fatal error. Tiny, so the CLI's start-up path can load it. */
export const EXIT_CLEAN = 0;
export const EXIT_FINDINGS = 1;
export const EXIT_FATAL = 2;
