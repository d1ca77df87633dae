/**
 * Every CLI command as data: name, arguments, options, help examples and a loader for its
 * implementation. Nothing heavy is imported here: `--version` and `--help` must stay fast, so
 * each implementation (and through it ajv, the formats and the engine) is loaded with a dynamic
 * `import()` only when its command runs.
 */
import type { CommandRun } from './context.js';
import { DATASET_INCLUDES, DEFAULT_EMBEDDING_DIM, ENGINE_KINDS, EXPORT_FORMATS, FORMAT_NAMES, RESOLVE_PREFERENCES } from '../vocabulary.js';

export interface OptionSpec {
  flags: string;
  description: string;
  /** How commander should parse the value. */
  parse?: 'int' | 'fraction';
  choices?: readonly string[];
  default?: string | number | boolean;
}

export interface CommandSpec {
  name: string;
  summary: string;
  /** Positional argument, e.g. '[dir]' (an optional directory, also accepted as --input). */
  argument?: { name: string; description: string };
  options: readonly OptionSpec[];
  /** Real invocations shown after --help. */
  examples: readonly string[];
  load: () => Promise<{ run: CommandRun }>;
  /** Sub-commands (`index status`): each a command of its own; the parent only groups them. */
  subcommands?: readonly CommandSpec[];
}

/** Where the result goes: '-' is stdout. */
const OUTPUT: OptionSpec = { flags: '-o, --output <file>', description: "write the JSON result to FILE ('-' = stdout)", default: '-' };
const INPUT_DIR: OptionSpec = { flags: '-i, --input <dir>', description: 'directory to work on (same as the DIR argument)' };
const WORKERS: OptionSpec = { flags: '-w, --workers <n>', description: 'worker threads (default: IMAGE_SIDECAR_WORKERS or CPU count)', parse: 'int' };
const ENGINE: OptionSpec = { flags: '--engine <kind>', description: 'where per-file work runs', choices: ENGINE_KINDS };
const OPERATION: OptionSpec = { flags: '--operation-type <op>', description: 'only sidecars holding this operation (any spelling, e.g. face_detection or Face_detector)' };
const JSON_OUT: OptionSpec = { flags: '--json', description: 'JSON output even on a terminal' };
const QUIET: OptionSpec = { flags: '-q, --quiet', description: 'no progress bar and no notes on stderr' };
const DRY_RUN: OptionSpec = { flags: '--dry-run', description: 'only report what would change' };
/** A path, never key material (argv is visible to every local user). */
const KEY_FILE: OptionSpec = {
  flags: '--key-file <file>',
  description: 'key for encrypted sidecars (default: IMAGE_SIDECAR_KEY_FILE, or a passphrase in IMAGE_SIDECAR_PASSPHRASE)',
};

const IMAGE_EXT: OptionSpec = { flags: '--image-ext <exts>', description: 'more image extensions, comma-separated (added to the default set; see docs/PAIRING.md)' };
const CONFIG: OptionSpec = { flags: '--config <file>', description: 'configuration file (default: the nearest .image-sidecar.json at or above the folder)' };

/** The incremental index (docs/INDEX.md): both flags set the `index` key. */
const INDEX: OptionSpec = { flags: '--index <path>', description: 'index file of stored per-file results, outside the library (default: DIR/.image-sidecar/index, or the cache directory on a read-only tree); a file there that is not an index is never replaced' };
const NO_INDEX: OptionSpec = { flags: '--no-index', description: 'read every sidecar again; no index is read or written' };

const DIR_ARG = { name: '[dir]', description: 'library directory' };
/** mv and cp: the images, then where they go; no tree is scanned, only the images' sidecars read. */
const TRANSFER_ARG = { name: '<paths...>', description: 'the images, then the destination folder (or a new name for one image)' };
/** The keys and what counts as an image: every command that reads sidecars of a library takes them. */
const LIBRARY_NAMES: readonly OptionSpec[] = [KEY_FILE, IMAGE_EXT, CONFIG];
const TRANSFER_OPTIONS: readonly OptionSpec[] = [JSON_OUT, QUIET, DRY_RUN, ...LIBRARY_NAMES, { flags: '-o, --output <file>', description: "write the JSON report to FILE ('-' = stdout)", default: '-' }];
/**
 * How a tree is read — where the work runs, the keys, what counts as an image: exactly what
 * `engineOptions(ctx)` (context.ts) reads. Every command that scans a tree takes all of them
 * (a test checks it), so `--key-file` or `--image-ext` cannot be forgotten on a new command.
 */
export const TREE_READING: readonly OptionSpec[] = [WORKERS, ENGINE, ...LIBRARY_NAMES];
const TREE_COMMON: readonly OptionSpec[] = [INPUT_DIR, OUTPUT, JSON_OUT, QUIET, ...TREE_READING];

/** One shard of the tree (docs/SCALE.md); mergeable commands then write a shard output for `merge`. */
const SHARD: OptionSpec = {
  flags: '--shard <I/N>',
  description: 'work on shard I of N only (0-based; auto/N reads JOB_COMPLETION_INDEX, SLURM_ARRAY_TASK_ID or PARALLEL_SEQ); see docs/SCALE.md',
};
const SHARD_OUT: OptionSpec = { ...SHARD, description: `${SHARD.description}; writes a shard output for \`merge\`` };

/** Commands that print a list of images (todo, stale, find). */
const LIST_COMMON: readonly OptionSpec[] = [
  INPUT_DIR,
  { flags: '-o, --output <file>', description: "write the list to FILE ('-' = stdout)", default: '-' },
  { flags: '-0, --print0', description: 'end each path with NUL instead of a newline (for xargs -0)' },
  { flags: '--jsonl', description: 'one JSON record per line, with the reason each image is listed' },
  { flags: '--json', description: 'one JSON document: the records, then the totals' },
  QUIET,
  { ...SHARD, description: `${SHARD.description}: each job lists its own part` },
  ...TREE_READING,
];
const WHERE: OptionSpec = { flags: '--where <expr>', description: 'only sidecars matching EXPR, e.g. "faces >= 3 and quality.grade in [A, B]" (docs/QUERY.md)' };
const VERIFY_HASH: OptionSpec = { flags: '--verify-hash', description: 're-hash images whose sidecar recorded a sha256 (finds changes that kept size and mtime)' };

/** Formats a new sidecar may be written in (`write -f`). */
export const NEW_SIDECAR_FORMATS = FORMAT_NAMES;
export { EXPORT_FORMATS };

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'validate',
    summary: 'decode every sidecar of a tree and check it against the built-in rules (and a JSON Schema)',
    argument: DIR_ARG,
    options: [
      ...TREE_COMMON,
      OPERATION,
      WHERE,
      { flags: '--schema <file>', description: 'also check each sidecar against this JSON Schema' },
      { flags: '--jsonl', description: 'one result per line (NDJSON) instead of one JSON document' },
      SHARD_OUT,
      INDEX,
      NO_INDEX,
    ],
    examples: [
      'image-sidecar validate ~/Photos',
      'image-sidecar validate ~/Photos --shard 0/8 -o shards/validate-0.jsonl   # then: image-sidecar merge shards/validate-*.jsonl',
      'image-sidecar validate --input ~/Photos --workers 4 --operation-type face_detection',
      'image-sidecar validate ~/Photos --schema sidecar.schema.json --jsonl > results.ndjson',
    ],
    load: () => import('./cmd-validate.js'),
  },
  {
    name: 'validate-json',
    summary: 'validate the sidecar files listed in LISTFILE (one path per line); NDJSON out',
    options: [
      { flags: '-i, --input <listfile>', description: "file with one sidecar path per line ('-' = stdin)" },
      OUTPUT,
      WORKERS,
      ENGINE,
      OPERATION,
      { flags: '--schema <file>', description: 'also check each sidecar against this JSON Schema' },
      QUIET,
      KEY_FILE,
    ],
    examples: [
      'image-sidecar validate-json --input files.txt --output - --workers 4',
      'find ~/Photos -name "*.json" | image-sidecar validate-json --input -',
    ],
    load: () => import('./cmd-validate-json.js'),
  },
  {
    name: 'stats',
    summary: 'deterministic statistics of a tree: coverage, operations, faces, objects, formats',
    argument: DIR_ARG,
    options: [...TREE_COMMON, OPERATION, WHERE, { flags: '--list', description: 'add the per-sidecar list (large on big libraries)' }, SHARD_OUT, INDEX, NO_INDEX],
    examples: ['image-sidecar stats ~/Photos', 'image-sidecar stats ~/Photos --shard auto/8 -o /shared/stats-$JOB_COMPLETION_INDEX.jsonl', 'image-sidecar stats --input ~/Photos --operation-type yolov8 --json', 'image-sidecar stats ~/Photos --list -o stats.json'],
    load: () => import('./cmd-stats.js'),
  },
  {
    name: 'format-stats',
    summary: 'count sidecar files by what their bytes are (JSON, our binary, legacy), not by extension',
    argument: DIR_ARG,
    options: [...TREE_COMMON, SHARD_OUT, INDEX, NO_INDEX],
    examples: ['image-sidecar format-stats ~/Photos', 'image-sidecar format-stats --input ~/Photos --output -'],
    load: () => import('./cmd-stats.js'),
  },
  {
    name: 'report',
    summary: 'a self-contained HTML page of the library (coverage, operations, faces, objects, quality, formats, invalid files)',
    argument: DIR_ARG,
    options: [
      INPUT_DIR,
      { flags: '-o, --output <file>', description: "write the HTML page to FILE, atomically ('-' = stdout)", default: '-' },
      { flags: '--json', description: 'print where the page went as JSON' },
      QUIET,
      ...TREE_READING,
      OPERATION,
      { flags: '--schema <file>', description: 'also check each sidecar against this JSON Schema for the invalid-file list' },
      { flags: '--open', description: 'open the page in the default browser ($BROWSER, xdg-open, open or start)' },
      { flags: '--max-invalid <n>', description: 'invalid files listed (the rest counted; default 100)', parse: 'int' },
      { flags: '--max-folders <n>', description: 'folder rows in the coverage table (the rest summed; default 200)', parse: 'int' },
      INDEX,
      NO_INDEX,
    ],
    examples: ['image-sidecar report ~/Photos -o report.html', 'image-sidecar report ~/Photos --open', 'image-sidecar report --input ~/Photos --operation-type face_detection -o faces.html'],
    load: () => import('./cmd-report.js'),
  },
  {
    name: 'convert',
    summary: 'rewrite sidecars in another format (atomic, verified; the source is removed only after the target reads back equal)',
    argument: DIR_ARG,
    options: [
      ...TREE_COMMON,
      { flags: '-f, --format <format>', description: 'target format', choices: FORMAT_NAMES },
      DRY_RUN,
      { flags: '--keep-source', description: 'keep the source file next to the new one' },
      { flags: '--verify', description: 'read every converted file back and compare it bit for bit' },
      { flags: '--encrypt', description: 'write encrypted bin under the key (--key-file or the environment); needs --format bin' },
      { flags: '--decrypt', description: 'write plaintext (encrypted sidecars otherwise stay encrypted); --format defaults to bin' },
      { flags: '--list', description: 'show every action: source → target, skip reason, conflict (default on a terminal when the plan is short)' },
      { flags: '--no-list', description: 'show only counts and problems' },
      SHARD,
    ],
    examples: [
      'image-sidecar convert ~/Photos --format bin --dry-run --list',
      'image-sidecar convert --input ~/Photos -f json --keep-source',
      'image-sidecar convert ~/Photos -f bin --verify',
      'image-sidecar convert ~/Photos --format bin --encrypt --key-file ~/.config/image-sidecar/key',
      'IMAGE_SIDECAR_KEY_FILE=~/key image-sidecar convert ~/Photos --decrypt',
    ],
    load: () => import('./cmd-convert.js'),
  },
  {
    name: 'rekey',
    summary: 're-encrypt every encrypted sidecar under a new key (crash-safe like convert: atomic, verified)',
    argument: DIR_ARG,
    options: [
      ...TREE_COMMON,
      { flags: '--new-key-file <file>', description: 'the new key (make one with `image-sidecar keygen -o FILE`)' },
      DRY_RUN,
    ],
    examples: ['image-sidecar rekey ~/Photos --key-file old.key --new-key-file new.key', 'IMAGE_SIDECAR_PASSPHRASE=… image-sidecar rekey ~/Photos --new-key-file new.key'],
    load: () => import('./cmd-crypto.js'),
  },
  {
    name: 'keygen',
    summary: 'write a new random 32-byte key file (mode 0600; never overwrites)',
    options: [{ flags: '-o, --output <file>', description: 'key file to create (required; never stdout)' }, JSON_OUT],
    examples: ['image-sidecar keygen -o ~/.config/image-sidecar/key'],
    load: () => import('./cmd-crypto.js'),
  },
  {
    name: 'cleanup',
    summary: 'move orphaned sidecars (no image with the same stem in their folder) to a quarantine folder',
    argument: DIR_ARG,
    options: [
      ...TREE_COMMON,
      DRY_RUN,
      { flags: '--delete', description: 'delete instead of moving to the quarantine folder' },
      { flags: '--force', description: 'go on even when the orphan fraction is above --max-fraction' },
      { flags: '--max-fraction <x>', description: 'refuse when more than this fraction of the sidecars are orphans', parse: 'fraction' },
      { ...SHARD, description: `${SHARD.description} (with --dry-run only)` },
    ],
    examples: [
      'image-sidecar cleanup ~/Photos --dry-run',
      'image-sidecar cleanup --input ~/Photos',
      'image-sidecar cleanup ~/Photos --max-fraction 0.5',
      'image-sidecar restore ~/Photos   # undo the last cleanup',
    ],
    load: () => import('./cmd-cleanup.js'),
  },
  {
    name: 'restore',
    summary: 'move quarantined sidecars back where cleanup found them',
    argument: DIR_ARG,
    options: [
      ...TREE_COMMON,
      { flags: '--from <dir>', description: 'quarantine folder to restore from (default: the latest)' },
      DRY_RUN,
      { flags: '--list', description: 'list the quarantine folders (date, files, size) and restore nothing' },
    ],
    examples: ['image-sidecar restore ~/Photos', 'image-sidecar restore ~/Photos --list', 'image-sidecar restore ~/Photos --from ~/Photos/.image-sidecar-quarantine/2025-10-01T12-00-00Z --dry-run'],
    load: () => import('./cmd-cleanup.js'),
  },
  {
    name: 'mv',
    summary: 'move images with their sidecars (both forms; never overwrites; an interrupted move is finished by the next)',
    argument: TRANSFER_ARG,
    options: TRANSFER_OPTIONS,
    examples: ['image-sidecar mv game1/IMG_0001.jpg game1/IMG_0002.CR2 ~/Photos/best/', 'image-sidecar mv IMG_0001.jpg IMG_0001_goal.jpg', 'image-sidecar mv --dry-run game1/*.jpg game2/'],
    load: () => import('./cmd-move.js'),
  },
  {
    name: 'cp',
    summary: 'copy images with their sidecars (times kept, so the copies\' results stay current; never overwrites)',
    argument: TRANSFER_ARG,
    options: TRANSFER_OPTIONS,
    examples: ['image-sidecar cp game1/IMG_0001.jpg /mnt/client/', 'image-sidecar cp --dry-run game1/*.jpg /mnt/client/'],
    load: () => import('./cmd-move.js'),
  },
  {
    name: 'relink',
    summary: 'put orphaned sidecars back next to their images when those moved or were renamed in the library (restore undoes it)',
    argument: DIR_ARG,
    // One walk of names, the orphans read in the process: no engine, no index (docs/REORGANISE.md).
    options: [
      INPUT_DIR,
      OUTPUT,
      JSON_OUT,
      QUIET,
      ...LIBRARY_NAMES,
      DRY_RUN,
      { flags: '--hash-images', description: "read the candidate images and compare their bytes with the sha256 a sidecar recorded" },
    ],
    examples: ['image-sidecar relink ~/Photos --dry-run', 'image-sidecar relink ~/Photos --hash-images', 'image-sidecar restore ~/Photos   # undo the last relink'],
    load: () => import('./cmd-relink.js'),
  },
  {
    name: 'resolve',
    summary: 'one sidecar per image again: keep one verified file, quarantine the others (restore undoes it)',
    argument: DIR_ARG,
    options: [
      ...TREE_COMMON,
      {
        flags: '--prefer <which>',
        description: 'file to keep: the newest valid one; current: the one reads pick, the others moved only when each of their results is in it; or the valid one in this format',
        choices: RESOLVE_PREFERENCES,
        default: 'newest',
      },
      DRY_RUN,
    ],
    examples: [
      'image-sidecar resolve ~/Photos --dry-run',
      'image-sidecar resolve ~/Photos --prefer bin',
      'image-sidecar resolve ~/Photos --prefer current --dry-run   # the JSON copies a migration to .bin left behind',
      'image-sidecar restore ~/Photos   # undo',
    ],
    load: () => import('./cmd-resolve.js'),
  },
  {
    name: 'export',
    summary: 'export every sidecar of a tree into one JSON, JSON-lines or CSV file, or its results as a dataset: COCO, YOLO, an embedding matrix (docs/EXPORT.md)',
    argument: DIR_ARG,
    options: [
      ...TREE_COMMON,
      { flags: '-f, --format <format>', description: 'export format (coco, yolo, embeddings: datasets of the results, docs/EXPORT.md)', choices: EXPORT_FORMATS, default: 'json' },
      OPERATION,
      { flags: '--operation <op>', description: 'same as --operation-type; datasets take only this operation\'s results' },
      WHERE,
      { flags: '--include <kinds>', description: `coco, yolo: boxes to export, comma-separated (${DATASET_INCLUDES.join(', ')}); objects always, faces as the category "face"` },
      { flags: '--dim <n>', description: `embeddings: floats per vector (default ${DEFAULT_EMBEDDING_DIM}; 128 for the oldest Face_detector encodings); others are counted, never mixed in`, parse: 'int' },
      { flags: '--copy-images', description: 'yolo: copy the images into the folder (default: symlinks to them)' },
      { flags: '--csv-raw', description: "CSV: keep text cells starting with = + - @ as they are (default: prefixed with ' so spreadsheets show them as text, not formulas)" },
      { ...SHARD_OUT, description: `${SHARD_OUT.description} (--format jsonl)` },
      INDEX,
      NO_INDEX,
    ],
    examples: [
      'image-sidecar export ~/Photos -o sidecars.json',
      'image-sidecar export --input ~/Photos --output faces.csv --format csv --operation-type face_detection',
      'image-sidecar export ~/Photos --format jsonl | head',
      'image-sidecar export ~/Photos --format coco --include faces -o coco.json',
      'image-sidecar export ~/Photos --format yolo --operation yolov8 -o ~/datasets/players',
      'image-sidecar export ~/Photos --format embeddings -o faces.npy   # faces.jsonl beside it: one row per matrix row',
    ],
    load: () => import('./cmd-export.js'),
  },
  {
    name: 'read',
    summary: "print one image's sidecar data ({} when it has none)",
    argument: { name: '<image>', description: 'image file (its sidecar is found next to it or next to its symlink target)' },
    options: [
      OUTPUT,
      JSON_OUT,
      QUIET,
      IMAGE_EXT,
      CONFIG,
      { flags: '--detailed', description: 'also print which file was read, its format and any findings' },
      { flags: '--operation <op>', description: "only this operation's data (any spelling, e.g. face_detection or Face_detector); exit 1 when absent" },
      { flags: '--summary', description: 'one screen: operations, faces, objects, quality, times, sizes, sidecar_info' },
      KEY_FILE,
    ],
    examples: [
      'image-sidecar read ~/Photos/IMG_1234.JPG',
      'image-sidecar read ~/Photos/IMG_1234.JPG --summary',
      'image-sidecar read ~/Photos/IMG_1234.JPG --operation yolov8 --json',
      'image-sidecar read ~/Photos/IMG_1234.JPG --detailed --json',
    ],
    load: () => import('./cmd-read-write.js'),
  },
  {
    name: 'write',
    summary: "merge one operation's data into an image's sidecar (locked, atomic; other operations kept)",
    argument: { name: '<image>', description: 'image file' },
    options: [
      { flags: '--operation <op>', description: 'operation key to set, e.g. face_detection' },
      { flags: '--data <file>', description: "JSON file with the operation's data ('-' = stdin)" },
      {
        flags: '-f, --format <format>',
        description:
          'format to write (default: IMAGE_SIDECAR_FORMAT, else defaultFormat of .image-sidecar.json, else the existing sidecar\'s format, else the folder\'s, else bin); a sidecar in another format is kept untouched beside the new file',
        choices: NEW_SIDECAR_FORMATS,
      },
      { flags: '--naming <form>', description: 'naming of a NEW sidecar: stem (IMG_1.bin) or name-ext (IMG_1.jpg.bin; automatic when another image shares the stem, as IMG_1.jpg and IMG_1.CR2 do)', choices: ['stem', 'name-ext'] },
      { flags: '--backend <name>', description: 'store the data as one backend\'s result under the operation (face_detection.insightface); other backends are kept' },
      IMAGE_EXT,
      CONFIG,
      { flags: '--hash-images', description: 'also record the sha256 of the image in sidecar_info.image (size and mtime always are)' },
      OUTPUT,
      JSON_OUT,
      QUIET,
      KEY_FILE,
    ],
    examples: [
      'image-sidecar write ~/Photos/IMG_1.jpg --operation face_detection --data faces.json',
      'echo \'{"success":true,"faces":[]}\' | image-sidecar write IMG_1.jpg --operation face_detection --data - --format json',
    ],
    load: () => import('./cmd-read-write.js'),
  },
  {
    name: 'hash',
    summary: 'content digest of a tree (same sidecars → same digest), optionally writing a manifest',
    argument: DIR_ARG,
    options: [
      ...TREE_COMMON,
      { flags: '--canonical', description: 'hash decoded content (format-independent) instead of bytes' },
      { flags: '--manifest <file>', description: 'also write a per-file manifest for `verify`' },
      { flags: '--all-files', description: 'include every file, not only sidecars' },
      SHARD_OUT,
    ],
    examples: ['image-sidecar hash ~/Photos', 'image-sidecar hash ~/Photos --canonical --manifest before.manifest'],
    load: () => import('./cmd-integrity.js'),
  },
  {
    name: 'merge',
    summary: 'combine the shard outputs of one run (stats, validate, format-stats, hash, export --shard) into the unsharded result (a dataset export: its file or folder, -o)',
    argument: { name: '<files...>', description: 'the shard outputs, one per shard (any order)' },
    options: [
      { flags: '-o, --output <file>', description: "write the merged result to FILE, atomically ('-' = stdout)", default: '-' },
      { flags: '--jsonl', description: 'validate: one result per line (NDJSON), as validate --jsonl' },
      { flags: '--manifest <file>', description: 'hash: also write the per-file manifest for `verify`, as hash --manifest does' },
      JSON_OUT,
      QUIET,
    ],
    examples: [
      'image-sidecar merge shards/stats-*.jsonl -o stats.json',
      'image-sidecar merge shards/validate-*.jsonl --jsonl > results.ndjson',
      'image-sidecar merge shards/export-*.jsonl -o sidecars.jsonl',
      'image-sidecar merge shards/coco-*.jsonl -o coco.json   # a dataset export\'s shards: the dataset one run writes',
    ],
    load: () => import('./cmd-merge.js'),
  },
  {
    name: 'verify',
    summary: 'compare a tree with a manifest written by `hash --manifest`; exit 1 on any difference',
    argument: DIR_ARG,
    options: [
      ...TREE_COMMON,
      { flags: '--manifest <file>', description: 'manifest to compare with (required)' },
      { flags: '--canonical', description: 'the manifest is a JSONL one written by hash --canonical (a JSON manifest says its mode itself)' },
      { flags: '--all-files', description: 'the manifest is a JSONL one written by hash --all-files (a JSON manifest says so itself)' },
    ],
    examples: ['image-sidecar verify --manifest before.manifest ~/Photos', 'image-sidecar verify --manifest before.jsonl --canonical ~/Photos   # a JSONL manifest of hash --canonical'],
    load: () => import('./cmd-integrity.js'),
  },
  {
    name: 'find',
    summary: 'images whose sidecar matches a filter expression (tree order); see docs/QUERY.md',
    argument: DIR_ARG,
    options: [...LIST_COMMON, { flags: '--where <expr>', description: 'the filter, e.g. "has yolov8 and objects.person > 2" (required)' }, OPERATION, INDEX, NO_INDEX],
    examples: [
      "image-sidecar find ~/Photos --where 'faces >= 3'",
      "image-sidecar find ~/Photos --where 'quality.grade in [A, B] and not face_detection failed' --jsonl",
      "image-sidecar find ~/Photos --where 'has yolov8 and objects.person > 2' -0 | xargs -0 ls -l",
    ],
    load: () => import('./cmd-query.js'),
  },
  {
    name: 'todo',
    summary: 'images that still need an operation: no sidecar, no result, a failed result or a stale one (tree order)',
    argument: DIR_ARG,
    options: [...LIST_COMMON, { flags: '--operation <op>', description: 'the operation to be run, e.g. yolov8 or face_detection (required)' }, VERIFY_HASH, INDEX, NO_INDEX],
    examples: [
      'image-sidecar todo ~/Photos --operation yolov8 --print0 | xargs -0 python detect.py',
      'image-sidecar todo ~/Photos --operation face_detection --jsonl   # says why each image is listed',
    ],
    load: () => import('./cmd-query.js'),
  },
  {
    name: 'stale',
    summary: 'sidecars whose image changed (size, mtime or content) since their results were saved',
    argument: DIR_ARG,
    options: [...LIST_COMMON, VERIFY_HASH, INDEX, NO_INDEX],
    examples: ['image-sidecar stale ~/Photos', 'image-sidecar stale ~/Photos --verify-hash --jsonl'],
    load: () => import('./cmd-query.js'),
  },
  {
    name: 'index',
    summary: 'the incremental index of stored per-file results: `index status DIR`, `index clear DIR` (docs/INDEX.md)',
    options: [],
    examples: ['image-sidecar index status ~/Photos', 'image-sidecar index clear ~/Photos'],
    load: () => import('./cmd-index.js'),
    subcommands: [
      {
        name: 'status',
        summary: 'entries, size per sidecar, hits of the last run, and whether the index is usable',
        argument: DIR_ARG,
        options: [INPUT_DIR, OUTPUT, JSON_OUT, INDEX],
        examples: ['image-sidecar index status ~/Photos', 'image-sidecar index status ~/Photos --json'],
        load: () => import('./cmd-index.js'),
      },
      {
        name: 'clear',
        summary: 'remove the index (the next run reads every sidecar again and rebuilds it)',
        argument: DIR_ARG,
        options: [INPUT_DIR, JSON_OUT, INDEX],
        examples: ['image-sidecar index clear ~/Photos'],
        load: () => import('./cmd-index.js'),
      },
    ],
  },
  {
    name: 'sample',
    summary: 'generate a deterministic, realistic sample library (images, sidecars, reports, symlinks)',
    argument: { name: '[dir]', description: 'directory to create the library in' },
    options: [
      { flags: '-i, --input <dir>', description: 'same as the DIR argument' },
      { flags: '--images <n>', description: 'number of images', parse: 'int', default: 1000 },
      { flags: '--seed <s>', description: 'random seed (same seed → same bytes)', parse: 'int', default: 1 },
      OUTPUT,
      JSON_OUT,
      QUIET,
    ],
    examples: ['image-sidecar sample /tmp/demo --images 2000 --seed 1', 'image-sidecar sample /tmp/demo && image-sidecar stats /tmp/demo'],
    load: () => import('./cmd-sample.js'),
  },
  {
    name: 'doctor',
    summary: 'print version, engine, worker and limit information (and which key is configured: source and key id only)',
    options: [OUTPUT, JSON_OUT, KEY_FILE],
    examples: ['image-sidecar doctor', 'image-sidecar doctor --json'],
    load: () => import('./cmd-doctor.js'),
  },
  {
    name: 'serve',
    summary: 'JSON-lines request/response server for other languages',
    options: [{ flags: '--stdio', description: 'read requests from stdin, write responses to stdout (required)' }, KEY_FILE],
    examples: ['image-sidecar serve --stdio'],
    load: () => import('./cmd-serve.js'),
  },
];
