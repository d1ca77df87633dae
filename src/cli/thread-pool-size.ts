/**
 * The CLI's libuv thread pool: CLI_THREAD_POOL_SIZE threads (tuning.ts) unless UV_THREADPOOL_SIZE
 * is set (and not empty). libuv reads that variable when the first asynchronous call starts its pool, so this module
 * is cli.ts's first import: in the installed CLI and the executable (one CommonJS program, run by a
 * loader that makes no asynchronous call) its line runs before any other module's. Where the pool
 * has already started (the compiled tree run as ES modules: Node's loader reads files through it)
 * the line changes nothing but the variable. Only the CLI owns its process; the library never sets it.
 * The processes the CLI starts (a browser opener, `cp`) inherit the variable: Node programs among
 * them get the same pool, others ignore it.
 */
import { CLI_THREAD_POOL_SIZE } from '../tuning.js';

// Set but empty counts as unset (libuv would read it as one thread).
if (!process.env.UV_THREADPOOL_SIZE) process.env.UV_THREADPOOL_SIZE = String(CLI_THREAD_POOL_SIZE);
