import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serialize } from 'node:v8';
import { createHash } from 'node:crypto';
import { decodeLinkPayload, encodeLinkPayload, type LinkPayload } from '../src/tasks/link-entry.js';

const id = (n: number) => Buffer.alloc(40, n);
const stamp = (n: number) => Buffer.alloc(24, n);

const cases: LinkPayload[] = [
  // The usual link: every lookup in the folder the previous one named, the target the last name.
  { target: '/lib/photos/day/IMG.jpg', reason: null, steps: [['/lib', 'photos', stamp(1), id(1)], ['/lib/photos', 'day', stamp(2), id(2)], ['/lib/photos/day', 'IMG.jpg', stamp(3), id(3)]] },
  // Broken: a name that named nothing (no stamp), a reason.
  { target: null, reason: 'ENOENT', steps: [['/lib', 'gone', null, id(4)]] },
  // From the file system root, a target that is not the last lookup (a chain), Unicode names.
  { target: '/x/Bücher/ü.jpg', reason: null, steps: [['/', 'x', stamp(5), id(5)], ['/x', 'alias', stamp(6), id(6)], ['/x', 'Bücher', stamp(7), id(7)], ['/x/Bücher', 'ü.jpg', stamp(8), id(8)], ['/x', 'alias', stamp(6), id(6)]] },
  // No lookups after the link's own name; a racy folder (identity all zeros).
  { target: null, reason: 'target is not a file', steps: [] },
  { target: '/a/b', reason: null, steps: [['/a', 'b', stamp(9), Buffer.alloc(40)]] },
];

test('link payloads: the compact form gives back exactly what was written, in fewer bytes than v8', () => {
  for (const p of cases) {
    const bytes = encodeLinkPayload(p);
    const back = decodeLinkPayload(bytes);
    assert.ok(back, JSON.stringify(p.target));
    assert.equal(back.target, p.target);
    assert.equal(back.reason, p.reason);
    assert.equal(back.steps.length, p.steps.length);
    for (let i = 0; i < p.steps.length; i++) {
      assert.equal(back.steps[i][0], p.steps[i][0]);
      assert.equal(back.steps[i][1], p.steps[i][1]);
      assert.deepEqual(back.steps[i][2] === null ? null : Buffer.from(back.steps[i][2]!), p.steps[i][2]);
      assert.deepEqual(Buffer.from(back.steps[i][3]), p.steps[i][3]);
    }
    const v8 = serialize([p.target, p.reason, p.steps]);
    if (p === cases[0]) assert.ok(bytes.length < 0.75 * v8.length, `the usual link: ${bytes.length} vs ${v8.length} bytes`);
    // The form written by earlier versions (v8) is still read, to the same value.
    assert.deepEqual(decodeLinkPayload(v8), back);
  }
});

test('link payloads: a decoded payload outlives the bytes it came from (the index window is reused)', () => {
  const bytes = encodeLinkPayload(cases[0]);
  const back = decodeLinkPayload(bytes)!;
  bytes.fill(0);
  assert.deepEqual(Buffer.from(back.steps[2][3]), id(3));
  assert.deepEqual(Buffer.from(back.steps[1][2]!), stamp(2));
});

test('link payloads: anything truncated, padded or unknown is refused (the link is resolved again), never misread', () => {
  const good = encodeLinkPayload(cases[2]);
  for (let n = 0; n < good.length; n++) assert.equal(decodeLinkPayload(good.subarray(0, n)), null, `truncated to ${n}`);
  assert.equal(decodeLinkPayload(Buffer.concat([good, Buffer.from([0])])), null, 'padded');
  const other = Buffer.from(good);
  other[0] = 2;
  assert.equal(decodeLinkPayload(other), null, 'another form');
  // "folder = previous" on the first lookup has no previous: refused.
  const first = encodeLinkPayload({ target: null, reason: 'x', steps: [['/a', 'b', null, id(1)]] });
  first[2 + 3 + 2] |= 1; // flags of the first lookup (after form, flags, reason "x", count)
  assert.equal(decodeLinkPayload(first), null);
  assert.equal(decodeLinkPayload(serialize({ not: 'a link' })), null);
  assert.throws(() => encodeLinkPayload({ target: null, reason: null, steps: [['/a', 'b', null, Buffer.alloc(39)]] }), RangeError);
});

test('link payloads: the bytes written are the format as earlier versions wrote it (pinned: stored link entries outlive a build)', () => {
  const more: LinkPayload[] = [...cases, { target: '/elsewhere/写真.jpg', reason: 'odd', steps: [['/a', 'b', null, id(10)]] }];
  // sha-256 of the concatenated encodings as the first encoder of this form wrote them.
  const digest = createHash('sha256').update(Buffer.concat(more.map((p) => encodeLinkPayload(p)))).digest('hex');
  assert.equal(digest, '540157b09c373d366d2038e26efdbe1274d079d9846b64631f53f5232f538b0c');
});
