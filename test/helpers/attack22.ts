/** attack22: a short message for two command outputs (JSON text) that differ: the first results or keys that do. */
export function firstDiff(got: string, want: string): string {
  if (got === want) return 'same';
  const g = JSON.parse(got) as Record<string, unknown>;
  const w = JSON.parse(want) as Record<string, unknown>;
  const out: string[] = [];
  const walk = (a: unknown, b: unknown, at: string) => {
    if (out.length >= 4) return;
    if (JSON.stringify(a) === JSON.stringify(b)) return;
    if (a && b && typeof a === 'object' && typeof b === 'object') {
      const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
      for (const k of keys) walk((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${at}/${k}`);
      return;
    }
    const show = (v: unknown) => JSON.stringify(v)?.slice(0, 200).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    out.push(`${at}: got ${show(a)} want ${show(b)}`);
  };
  walk(g, w, '');
  return out.join('\n') || 'differ (number spelling)';
}
