/**
 * Open a file in the default browser: `$BROWSER` when set (first entry of its colon-separated
 * list, as Python's webbrowser reads it), else `open` (macOS), `cmd /c start` (Windows) or
 * `xdg-open`. The opener is detached; we wait only until it has started (or failed to).
 */
import { spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';

export interface Opener {
  command: string;
  args: string[];
}

export function openerFor(file: string, env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): Opener {
  const browser = env.BROWSER?.split(':').find((s) => s.trim() !== '')?.trim();
  if (browser) {
    // webbrowser's convention: %s stands for the URL; without it the URL is the last argument.
    const parts = browser.split(/\s+/);
    const url = pathToFileURL(file).href;
    return parts.some((p) => p.includes('%s'))
      ? { command: parts[0], args: parts.slice(1).map((p) => p.replaceAll('%s', url)) }
      : { command: parts[0], args: [...parts.slice(1), url] };
  }
  if (platform === 'darwin') return { command: 'open', args: [file] };
  // `start`'s first quoted argument is a window title, hence the empty one.
  if (platform === 'win32') return { command: 'cmd', args: ['/c', 'start', '""', file] };
  return { command: 'xdg-open', args: [file] };
}

/** Start the opener; resolves with an error message when it could not be started. */
export function openInBrowser(file: string, env: NodeJS.ProcessEnv = process.env): Promise<{ opener: Opener; error: string | null }> {
  const opener = openerFor(file, env);
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn(opener.command, opener.args, { detached: true, stdio: 'ignore', env, windowsHide: true });
    } catch (e) {
      resolve({ opener, error: (e as Error).message });
      return;
    }
    child.once('error', (e) => resolve({ opener, error: e.message }));
    child.once('spawn', () => {
      child.unref();
      resolve({ opener, error: null });
    });
  });
}
