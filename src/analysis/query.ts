/**
 * The `--where` filter language over the per-sidecar summary (docs/QUERY.md has the grammar).
 *
 *   faces >= 3
 *   quality.grade in [A, B]
 *   has yolov8 and objects.person > 2
 *   face_detection failed or not (format == bin)
 *
 * A tokenizer and a recursive-descent parser turn the text into a tree once; the tree is compiled
 * into nested closures, checked for field names and value types at compile time, so evaluating
 * it per sidecar is a few property reads and comparisons. Errors name the column and draw a caret
 * under the expression.
 */
import { errors, type SidecarError } from '../errors.js';
import type { SidecarFormat } from '../types.js';
import { normalizeOperationName } from './operations.js';
import type { SidecarSummary } from '../model/summary.js';

/** What a predicate sees of one sidecar. */
export interface QueryRecord {
  summary: SidecarSummary;
  format: SidecarFormat | null;
  /** File size in bytes. */
  size: number;
}

export type Predicate = (r: QueryRecord) => boolean;

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

type TokenKind = 'word' | 'number' | 'string' | 'op' | '(' | ')' | '[' | ']' | ',' | '.' | 'end';

interface Token {
  kind: TokenKind;
  /** Source text (for words: as written; for strings: the decoded value). */
  text: string;
  value?: number;
  /** 0-based offset in the expression. */
  pos: number;
}

const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'has', 'failed', 'succeeded', 'null']);
const COMPARE_OPS = ['==', '!=', '<=', '>=', '<', '>', '='] as const;
type CompareOp = '==' | '!=' | '<' | '<=' | '>' | '>=';

function isWordStart(c: string): boolean {
  return /[\p{L}_]/u.test(c);
}
function isWordPart(c: string): boolean {
  return /[\p{L}\p{N}_-]/u.test(c);
}

function fail(expr: string, pos: number, message: string): SidecarError {
  const col = pos + 1;
  // Tabs and newlines shown as spaces so the caret stays under its column (one character each).
  const shown = expr.replace(/[\t\n\r]/g, ' ');
  return errors.usage(`invalid --where expression at column ${col}: ${message}\n  ${shown}\n  ${' '.repeat(pos)}^`);
}

export function tokenize(expr: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const start = i;
    if (c === '(' || c === ')' || c === '[' || c === ']' || c === ',' || c === '.') {
      // A '.' followed by a digit starts a number (.5); otherwise it joins field names.
      if (c !== '.' || !/[0-9]/.test(expr[i + 1] ?? '')) {
        out.push({ kind: c, text: c, pos: start });
        i++;
        continue;
      }
    }
    if (c === '&' && expr[i + 1] === '&') {
      out.push({ kind: 'word', text: 'and', pos: start });
      i += 2;
      continue;
    }
    if (c === '|' && expr[i + 1] === '|') {
      out.push({ kind: 'word', text: 'or', pos: start });
      i += 2;
      continue;
    }
    if (c === '!' && expr[i + 1] !== '=') {
      out.push({ kind: 'word', text: 'not', pos: start });
      i++;
      continue;
    }
    const op = COMPARE_OPS.find((o) => expr.startsWith(o, i));
    if (op !== undefined) {
      out.push({ kind: 'op', text: op === '=' ? '==' : op, pos: start });
      i += op.length;
      continue;
    }
    const num = /^-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?/.exec(expr.slice(i));
    if (num !== null && (c !== '-' || num[0].length > 1)) {
      const after = expr[i + num[0].length];
      if (after !== undefined && isWordPart(after)) throw fail(expr, i + num[0].length, `unexpected "${after}" after the number ${num[0]}`);
      out.push({ kind: 'number', text: num[0], value: Number(num[0]), pos: start });
      i += num[0].length;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      let text = '';
      for (;;) {
        if (j >= expr.length) throw fail(expr, start, 'string not closed');
        const d = expr[j];
        if (d === c) break;
        if (d === '\\' && j + 1 < expr.length) {
          text += expr[j + 1];
          j += 2;
          continue;
        }
        text += d;
        j++;
      }
      out.push({ kind: 'string', text, pos: start });
      i = j + 1;
      continue;
    }
    if (isWordStart(c)) {
      let j = i + 1;
      while (j < expr.length && isWordPart(expr[j])) j++;
      out.push({ kind: 'word', text: expr.slice(i, j), pos: start });
      i = j;
      continue;
    }
    throw fail(expr, i, `unexpected character "${c}"`);
  }
  out.push({ kind: 'end', text: '', pos: expr.length });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Syntax tree
// ---------------------------------------------------------------------------------------------

type Value = { kind: 'number'; value: number; pos: number } | { kind: 'text'; value: string; pos: number } | { kind: 'null'; pos: number };

export type Node =
  | { type: 'and' | 'or'; left: Node; right: Node }
  | { type: 'not'; operand: Node }
  | { type: 'has'; operation: string; pos: number }
  | { type: 'outcome'; operation: string; outcome: 'failed' | 'succeeded'; pos: number }
  | { type: 'compare'; field: string; fieldPos: number; op: CompareOp; value: Value }
  | { type: 'in'; field: string; fieldPos: number; negated: boolean; values: Value[] };

/**
 * Levels of "(" and "not" an expression may nest: parsing, compiling and every evaluation recurse
 * on them (20,000 "(" overflowed the stack: INTERNAL "Maximum call stack size exceeded").
 */
const MAX_NESTING = 256;

/** `terms` joined by `type` as a balanced tree: a chain of 10,000 "and"s is 14 levels deep, not 10,000. */
function balanced(type: 'and' | 'or', terms: Node[], from = 0, to = terms.length): Node {
  if (to - from === 1) return terms[from];
  const mid = (from + to) >> 1;
  return { type, left: balanced(type, terms, from, mid), right: balanced(type, terms, mid, to) };
}

class Parser {
  private k = 0;
  private depth = 0;
  constructor(
    private readonly expr: string,
    private readonly tokens: Token[],
  ) {}

  private peek(): Token {
    return this.tokens[this.k];
  }
  private next(): Token {
    return this.tokens[this.k++];
  }
  private isKeyword(t: Token, word: string): boolean {
    return t.kind === 'word' && t.text.toLowerCase() === word;
  }
  private describe(t: Token): string {
    return t.kind === 'end' ? 'the end of the expression' : `"${this.expr.slice(t.pos, t.pos + Math.max(1, t.text.length))}"`;
  }
  private error(t: Token, message: string): SidecarError {
    return fail(this.expr, t.pos, message);
  }

  parse(): Node {
    if (this.peek().kind === 'end') throw this.error(this.peek(), 'empty expression');
    const node = this.orExpr();
    const t = this.peek();
    if (t.kind !== 'end') throw this.error(t, `expected "and", "or" or the end, found ${this.describe(t)}`);
    return node;
  }

  private orExpr(): Node {
    const terms = [this.andExpr()];
    while (this.isKeyword(this.peek(), 'or')) {
      this.next();
      terms.push(this.andExpr());
    }
    return balanced('or', terms);
  }

  private andExpr(): Node {
    const terms = [this.unary()];
    while (this.isKeyword(this.peek(), 'and')) {
      this.next();
      terms.push(this.unary());
    }
    return balanced('and', terms);
  }

  /** One level deeper ("(" or "not" at `t`), refused past MAX_NESTING. */
  private nested<T>(t: Token, parse: () => T): T {
    if (++this.depth > MAX_NESTING) throw this.error(t, `nested deeper than ${MAX_NESTING} levels of "(" and "not"`);
    try {
      return parse();
    } finally {
      this.depth--;
    }
  }

  private unary(): Node {
    const t = this.peek();
    if (this.isKeyword(t, 'not')) {
      this.next();
      return { type: 'not', operand: this.nested(t, () => this.unary()) };
    }
    return this.primary();
  }

  private word(what: string): Token {
    const t = this.next();
    if (t.kind !== 'word' || KEYWORDS.has(t.text.toLowerCase())) throw this.error(t, `expected ${what}, found ${this.describe(t)}`);
    return t;
  }

  private primary(): Node {
    const t = this.peek();
    if (t.kind === '(') {
      this.next();
      const inner = this.nested(t, () => this.orExpr());
      const close = this.next();
      if (close.kind !== ')') throw this.error(close, `expected ")" to close the "(" at column ${t.pos + 1}, found ${this.describe(close)}`);
      return inner;
    }
    if (this.isKeyword(t, 'has')) {
      this.next();
      const name = this.word('an operation name after "has"');
      return { type: 'has', operation: normalizeOperationName(name.text), pos: name.pos };
    }
    // field path: word { . word }
    const first = this.word('a field, "has OPERATION", "not" or "("');
    let field = first.text;
    while (this.peek().kind === '.') {
      this.next();
      const part = this.next();
      if (part.kind !== 'word' && part.kind !== 'number') throw this.error(part, `expected a name after ".", found ${this.describe(part)}`);
      field += '.' + part.text;
    }
    const after = this.peek();
    if (this.isKeyword(after, 'failed') || this.isKeyword(after, 'succeeded')) {
      this.next();
      if (field !== first.text) throw this.error(first, `"${after.text}" follows an operation name, not a field path`);
      return { type: 'outcome', operation: normalizeOperationName(field), outcome: after.text.toLowerCase() as 'failed' | 'succeeded', pos: first.pos };
    }
    let negated = false;
    if (this.isKeyword(after, 'not')) {
      this.next();
      if (!this.isKeyword(this.peek(), 'in')) throw this.error(this.peek(), `expected "in" after "${field} not"`);
      negated = true;
    }
    if (this.isKeyword(this.peek(), 'in')) {
      this.next();
      const open = this.next();
      if (open.kind !== '[') throw this.error(open, `expected "[" after "in", found ${this.describe(open)}`);
      const values: Value[] = [];
      if (this.peek().kind !== ']') {
        for (;;) {
          values.push(this.value());
          const sep = this.next();
          if (sep.kind === ']') break;
          if (sep.kind !== ',') throw this.error(sep, `expected "," or "]" in the list, found ${this.describe(sep)}`);
        }
      } else this.next();
      return { type: 'in', field, fieldPos: first.pos, negated, values };
    }
    if (after.kind === 'op') {
      this.next();
      return { type: 'compare', field, fieldPos: first.pos, op: after.text as CompareOp, value: this.value() };
    }
    throw this.error(after, `expected a comparison (==, !=, <, <=, >, >=, in) or failed/succeeded after "${field}", found ${this.describe(after)}`);
  }

  private value(): Value {
    const t = this.next();
    if (t.kind === 'number') return { kind: 'number', value: t.value!, pos: t.pos };
    if (t.kind === 'string') return { kind: 'text', value: t.text, pos: t.pos };
    if (t.kind === 'word') {
      const lower = t.text.toLowerCase();
      if (lower === 'null') return { kind: 'null', pos: t.pos };
      if (!KEYWORDS.has(lower)) return { kind: 'text', value: t.text, pos: t.pos };
    }
    throw this.error(t, `expected a value (number, word, "text" or null), found ${this.describe(t)}`);
  }
}

export function parseQuery(expr: string): Node {
  if (typeof expr !== 'string') throw errors.usage('--where needs an expression');
  return new Parser(expr, tokenize(expr)).parse();
}

// ---------------------------------------------------------------------------------------------
// Fields and compilation
// ---------------------------------------------------------------------------------------------

type Getter<T> = (r: QueryRecord) => T;
type FieldDef = { kind: 'number'; get: Getter<number | null> } | { kind: 'text'; get: Getter<string | null> };

/** Fields by name; `objects.<class>` and `processing_time.<operation>` are families. */
const FIELDS: Readonly<Record<string, FieldDef>> = {
  faces: { kind: 'number', get: (r) => r.summary.faces },
  objects: { kind: 'number', get: (r) => r.summary.objects },
  embeddings: { kind: 'number', get: (r) => r.summary.embeddings },
  detections: { kind: 'number', get: (r) => r.summary.detectionCount },
  operations: { kind: 'number', get: (r) => r.summary.operations.length },
  size: { kind: 'number', get: (r) => r.size },
  'quality.score': { kind: 'number', get: (r) => r.summary.qualityScore },
  'quality.grade': { kind: 'text', get: (r) => r.summary.qualityGrade },
  format: { kind: 'text', get: (r) => r.format },
  operation_type: { kind: 'text', get: (r) => r.summary.operationType },
  tool: { kind: 'text', get: (r) => r.summary.toolName },
};

export const QUERY_FIELDS: readonly string[] = [...Object.keys(FIELDS), 'objects.<class>', 'processing_time.<operation>'];

function fieldDef(expr: string, field: string, pos: number): FieldDef {
  if (Object.hasOwn(FIELDS, field)) return FIELDS[field];
  const dot = field.indexOf('.');
  const family = dot > 0 ? field.slice(0, dot) : '';
  const rest = field.slice(dot + 1);
  if (family === 'objects' && rest.length > 0) {
    // COCO class names as the detector writes them (`person`, `sports_ball` also matches `sports ball`).
    const names = rest.includes('_') ? [rest, rest.replaceAll('_', ' ')] : [rest];
    return {
      kind: 'number',
      get: (r) => {
        const c = r.summary.objectClasses;
        let n = 0;
        for (const name of names) if (Object.hasOwn(c, name)) n += c[name];
        return n;
      },
    };
  }
  if (family === 'processing_time' && rest.length > 0) {
    const op = normalizeOperationName(rest);
    return { kind: 'number', get: (r) => (Object.hasOwn(r.summary.processingTimes, op) ? r.summary.processingTimes[op] : null) };
  }
  throw fail(expr, pos, `unknown field "${field}" (fields: ${QUERY_FIELDS.join(', ')})`);
}

function checkValue(expr: string, field: string, def: FieldDef, v: Value): void {
  if (v.kind === 'null') return;
  if (def.kind === 'number' && v.kind !== 'number') throw fail(expr, v.pos, `${field} is a number; "${v.value}" is not`);
  if (def.kind === 'text' && v.kind === 'number') throw fail(expr, v.pos, `${field} is text: write the value as a word or in quotes ("${v.value}")`);
}

function plain(v: Value): number | string | null {
  return v.kind === 'null' ? null : v.value;
}

function compileCompare(expr: string, node: Extract<Node, { type: 'compare' }>): Predicate {
  const def = fieldDef(expr, node.field, node.fieldPos);
  checkValue(expr, node.field, def, node.value);
  const get = def.get as Getter<number | string | null>;
  const want = plain(node.value);
  const op = node.op;
  if (op === '==') return (r) => get(r) === want;
  if (op === '!=') return (r) => get(r) !== want;
  if (def.kind === 'text') throw fail(expr, node.fieldPos, `${node.field} is text: use ==, != or in`);
  if (want === null) throw fail(expr, node.value.pos, `${op} needs a number, not null`);
  const n = want as number;
  const num = def.get as Getter<number | null>;
  // A missing value (null) is never <, <=, > or >= anything.
  switch (op) {
    case '<':
      return (r) => {
        const v = num(r);
        return v !== null && v < n;
      };
    case '<=':
      return (r) => {
        const v = num(r);
        return v !== null && v <= n;
      };
    case '>':
      return (r) => {
        const v = num(r);
        return v !== null && v > n;
      };
    default:
      return (r) => {
        const v = num(r);
        return v !== null && v >= n;
      };
  }
}

function compileNode(expr: string, node: Node): Predicate {
  switch (node.type) {
    case 'and': {
      const a = compileNode(expr, node.left);
      const b = compileNode(expr, node.right);
      return (r) => a(r) && b(r);
    }
    case 'or': {
      const a = compileNode(expr, node.left);
      const b = compileNode(expr, node.right);
      return (r) => a(r) || b(r);
    }
    case 'not': {
      const a = compileNode(expr, node.operand);
      return (r) => !a(r);
    }
    case 'has': {
      const op = node.operation;
      return (r) => r.summary.operations.includes(op);
    }
    case 'outcome': {
      const op = node.operation;
      const want = node.outcome === 'succeeded';
      return (r) => Object.hasOwn(r.summary.success, op) && r.summary.success[op] === want;
    }
    case 'compare':
      return compileCompare(expr, node);
    case 'in': {
      const def = fieldDef(expr, node.field, node.fieldPos);
      for (const v of node.values) checkValue(expr, node.field, def, v);
      const set = new Set(node.values.map(plain));
      const get = def.get as Getter<number | string | null>;
      return node.negated ? (r) => !set.has(get(r)) : (r) => set.has(get(r));
    }
  }
}

/** Parse and compile once; the predicate is cheap to call per sidecar. Throws USAGE with a caret. */
export function compileQuery(expr: string): Predicate {
  return compileNode(expr, parseQuery(expr));
}
